import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import { buildTestApp } from './helpers/app.ts'

const committedPath = new URL('../openapi/openapi.json', import.meta.url)

describe('OpenAPI document', () => {
  it('matches the committed openapi/openapi.json (run `npm run openapi` after changing a route)', async (t) => {
    const app = await buildTestApp(t)
    const served = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<unknown>()
    const committed = JSON.parse(await readFile(committedPath, 'utf8')) as unknown
    assert.deepEqual(served, committed)
  })

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator()
    const result = await validator.validate(JSON.parse(await readFile(committedPath, 'utf8')) as Parameters<Validator['validate']>[0])
    assert.deepEqual(result, { valid: true })
    assert.equal(validator.version, '3.1')
  })

  it('documents every route with its request and reply schemas', async () => {
    const spec = JSON.parse(await readFile(committedPath, 'utf8')) as {
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>
    }
    assert.deepEqual(Object.keys(spec.paths).sort(), ['/execute', '/healthz', '/readyz', '/tools'])
    const execute = spec.paths['/execute']?.post
    assert.ok(execute?.requestBody)
    assert.deepEqual(Object.keys(execute.responses).sort(), ['200', '400', '401', '403', '408', '413', '415', '429', '503'])
  })
})
