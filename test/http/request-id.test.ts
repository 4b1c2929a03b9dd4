import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assistantMessage, buildTestApp, listen, waitFor } from '../helpers/app.ts'
import { hangTool } from '../helpers/tools.ts'

const key = 'key-request-id-5c1e'
const payload = assistantMessage([['c1', 'get_time', {}]])

describe('x-request-id', () => {
  it('is on every reply: answers, refusals before the route (401, 403, 429, 503) and after it (400, 404)', async (t) => {
    const app = await buildTestApp(t, {
      env: { TOOLGATE_API_KEYS: key, TOOLGATE_ALLOWED_ORIGINS: 'https://agent.example', TOOLGATE_RATE_LIMIT_PER_MINUTE: '2' },
    })
    const authorization = `Bearer ${key}`
    const replies = {
      200: await app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization } }),
      400: await app.inject({ method: 'POST', url: '/execute', payload: { nothing: 'known' }, headers: { authorization } }),
      404: await app.inject({ method: 'GET', url: '/nowhere', headers: { authorization } }),
      401: await app.inject({ method: 'POST', url: '/execute', payload }),
      403: await app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization, origin: 'https://evil.example' } }),
      429: await app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization } }),
    }
    app.stopTakingWork()
    const closing = await app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization } })
    for (const [status, reply] of [...Object.entries(replies), ['503', closing] as const]) {
      assert.equal(String(reply.statusCode), status)
      assert.match(String(reply.headers['x-request-id']), /^[0-9a-f-]{36}$/, `a ${status} reply carries a request id`)
    }
  })

  it('keeps a sane id the client sent, on a shed request too, and makes one for an unsafe id', async (t) => {
    const app = await buildTestApp(t, {
      tools: [hangTool({ timeoutMs: 5_000 })],
      env: { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '0' },
    })
    const busy = app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['h', 'hang', {}]]) })
    await waitFor(() => app.executor.stats.running === 1, 'the gateway to be full')
    const shed = await app.inject({ method: 'POST', url: '/execute', payload, headers: { 'x-request-id': 'agent-42.step:3' } })
    assert.equal(shed.statusCode, 503)
    assert.equal(shed.headers['x-request-id'], 'agent-42.step:3')
    const unsafe = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'two words\u00e9' } })
    assert.match(String(unsafe.headers['x-request-id']), /^[0-9a-f-]{36}$/)
    app.executor.cancelAll()
    await busy
  })

  it('is on a streamed reply', async (t) => {
    const app = await buildTestApp(t)
    const base = await listen(app)
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', 'x-request-id': 'stream-7' },
      body: JSON.stringify(payload),
    })
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson')
    assert.equal(response.headers.get('x-request-id'), 'stream-7')
    const events = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string })
    assert.deepEqual(
      events.map((event) => event.event),
      ['answer', 'done'],
    )
  })
})
