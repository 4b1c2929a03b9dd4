import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { z } from 'zod'
import { defineTool } from '../../src/tools/tool.ts'
import { buildTestApp, chatCompletion, waitFor } from '../helpers/app.ts'
import { sleepTool } from '../helpers/tools.ts'

/** Holds the event loop for `ms`: a CPU-bound tool run in-process by mistake. */
const blockTool = defineTool({
  name: 'block',
  description: 'Busy-waits.',
  inputSchema: z.object({ ms: z.int().min(0).max(5_000) }),
  execute: ({ ms }) => {
    const until = performance.now() + ms
    while (performance.now() < until) {
      // spinning on purpose
    }
    return { blocked: ms }
  },
})
const quick = defineTool({ name: 'quick', description: 'Answers at once.', inputSchema: z.object({}), execute: () => 'ok' })

describe('overload protection', () => {
  it('answers 503 overloaded with Retry-After while the event loop lags, keeps /healthz up, and recovers', async (t) => {
    const app = await buildTestApp(t, { tools: [blockTool, quick], env: { TOOLGATE_MAX_EVENT_LOOP_DELAY_MS: '20' } })
    const quickBatch = { method: 'POST' as const, url: '/execute', payload: chatCompletion([['call_q', 'quick', {}]]) }
    assert.equal((await app.inject(quickBatch)).statusCode, 200)

    const blocked = await app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([['call_b', 'block', { ms: 1_200 }]]) })
    assert.equal(blocked.json<{ status: string }>().status, 'complete')

    // The lag shows at the next sample (every 500 ms); poll until it is seen.
    let refused = await app.inject(quickBatch)
    for (let tries = 0; refused.statusCode === 200 && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      refused = await app.inject(quickBatch)
    }
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.headers['retry-after'], '1')
    const { error } = refused.json<{ error: { code: string; message: string } }>()
    assert.equal(error.code, 'overloaded')
    assert.match(error.message, /eventLoopDelay \d+/)
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 200)

    // The next samples see an idle loop again.
    let recovered = refused
    for (let tries = 0; recovered.statusCode === 503 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      recovered = await app.inject(quickBatch)
    }
    assert.equal(recovered.statusCode, 200)
  })

  it('answers 503 overloaded past the resident-memory limit', async (t) => {
    const app = await buildTestApp(t, { tools: [quick], env: { TOOLGATE_MAX_RSS_BYTES: '1' } })
    let refused = await app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([['call_q', 'quick', {}]]) })
    for (let tries = 0; refused.statusCode === 200 && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      refused = await app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([['call_q', 'quick', {}]]) })
    }
    assert.equal(refused.statusCode, 503)
    assert.match(refused.json<{ error: { message: string } }>().error.message, /rssBytes \d+/)
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  })

  it('refuses with 503 queue_full before reading the body once the gateway is full, but still validates', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool], env: { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '0' } })
    const running = app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([['call_1', 'sleep', { ms: 300 }]]) })
    await waitFor(() => app.executor.stats.running === 1, 'the call to start')
    // Not JSON: refused for capacity, so the body was never parsed.
    const refused = await app.inject({
      method: 'POST',
      url: '/execute',
      headers: { 'content-type': 'application/json' },
      payload: 'not json',
    })
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.headers['retry-after'], '1')
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'queue_full')
    const validated = await app.inject({
      method: 'POST',
      url: '/execute?mode=validate',
      payload: chatCompletion([['call_2', 'sleep', { ms: 1 }]]),
    })
    assert.equal(validated.statusCode, 200)
    assert.equal((await running).json<{ status: string }>().status, 'complete')
    const after = await app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([['call_3', 'sleep', { ms: 1 }]]) })
    assert.equal(after.statusCode, 200)
  })
})
