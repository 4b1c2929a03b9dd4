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

  it('is the same document on a gateway with TOOLGATE_ADMIN_KEY set, which serves the admin route', async (t) => {
    const app = await buildTestApp(t, { env: { TOOLGATE_ADMIN_KEY: 'admin-key-0123456789abcdef' } })
    const served = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<unknown>()
    assert.deepEqual(served, JSON.parse(await readFile(committedPath, 'utf8')) as unknown)
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
    assert.deepEqual(Object.keys(spec.paths).sort(), [
      '/admin/reload',
      '/execute',
      '/executions/{id}',
      '/healthz',
      '/mcp',
      '/metrics',
      '/readyz',
      '/tools',
    ])
    const execute = spec.paths['/execute']?.post
    assert.ok(execute?.requestBody)
    assert.deepEqual(Object.keys(execute.responses).sort(), [
      '200',
      '202',
      '400',
      '401',
      '403',
      '408',
      '409',
      '413',
      '415',
      '422',
      '429',
      '503',
    ])
  })

  it('documents GET /metrics as Prometheus text, not JSON, and its refusals as JSON', async (t) => {
    const spec = JSON.parse(await readFile(committedPath, 'utf8')) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>
    }
    const metrics = spec.paths['/metrics']?.get?.responses
    assert.ok(metrics)
    // The media type the route really answers with.
    const app = await buildTestApp(t)
    const scraped = await app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(scraped.statusCode, 200)
    const mediaType = String(scraped.headers['content-type'])
    assert.match(mediaType, /^text\/plain/)
    assert.deepEqual(metrics['200']?.content, { [mediaType]: { schema: { type: 'string' } } })
    assert.deepEqual(Object.keys(metrics['401']?.content ?? {}), ['application/json'])
  })

  it('documents POST /admin/reload, and says it answers 404 without TOOLGATE_ADMIN_KEY, as it does', async (t) => {
    const spec = JSON.parse(await readFile(committedPath, 'utf8')) as {
      paths: Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>>
    }
    const reload = spec.paths['/admin/reload']?.post
    assert.ok(reload)
    assert.deepEqual(Object.keys(reload.responses).sort(), ['200', '401', '404', '422'])
    assert.match(reload.description ?? '', /only when TOOLGATE_ADMIN_KEY is set.*404 not_found/)
    const app = await buildTestApp(t)
    const refused = await app.inject({ method: 'POST', url: '/admin/reload' })
    assert.equal(refused.statusCode, 404)
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'not_found')
  })
})
