import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { RequestError } from '../../src/errors.ts'
import { validatorCompiler } from '../../src/http/validator-compiler.ts'

const compile = (schema: z.ZodType, httpPart: string) =>
  validatorCompiler({ schema, httpPart, method: 'POST', url: '/execute' }) as (data: unknown) => { value?: unknown; error?: unknown }

describe('validatorCompiler', () => {
  const headers = { host: 'gateway', prefer: 'wait=5', 'idempotency-key': 'k-1' }

  it("leaves headers it only checks as Node parsed them: no value, so Fastify keeps request.headers Node's own", () => {
    const validate = compile(z.looseObject({ prefer: z.string().optional(), 'idempotency-key': z.string().optional() }), 'headers')
    const result = validate(headers)
    assert.equal('value' in result, false)
    assert.equal(result.error, undefined)
  })

  it('hands Fastify the headers a schema changes: a default, a transform', () => {
    const defaulted = compile(z.looseObject({ prefer: z.string().default('respond-async'), accept: z.string().default('*/*') }), 'headers')
    assert.deepEqual(defaulted(headers).value, { ...headers, accept: '*/*' })
    const trimmed = compile(z.looseObject({ prefer: z.string().transform((value) => value.toUpperCase()) }), 'headers')
    assert.deepEqual(trimmed(headers).value, { ...headers, prefer: 'WAIT=5' })
  })

  it('refuses a header of the wrong shape, naming it', () => {
    const validate = compile(z.looseObject({ prefer: z.string().regex(/^wait=\d+$/) }), 'headers')
    const { error } = validate({ ...headers, prefer: 'soon' })
    assert.ok(error instanceof RequestError)
    assert.match(error.message, /prefer/)
  })

  it('hands Fastify the parsed query, defaults included', () => {
    const validate = compile(z.object({ mode: z.enum(['parallel', 'sequential']).default('parallel') }), 'querystring')
    assert.deepEqual(validate({}).value, { mode: 'parallel' })
  })
})
