import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildTestApp, chatCompletion, listen, waitFor } from '../helpers/app.ts'
import { sleepTool } from '../helpers/tools.ts'

describe('closing', () => {
  it('turns readiness false and refuses new work with 503 shutting_down while the batch in flight finishes', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool] })
    const base = await listen(app)
    const inFlight = fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatCompletion([['call_slow', 'sleep', { ms: 600 }]])),
    })
    await waitFor(() => app.executor.stats.running === 1, 'the call to start')
    // What SIGTERM does first; app.close() then stops the listener (inject cannot follow it there).
    app.stopTakingWork()

    const ready = await app.inject({ url: '/readyz' })
    assert.equal(ready.statusCode, 503)
    assert.equal(ready.headers['retry-after'], '1')
    assert.equal(ready.json<{ error: { code: string } }>().error.code, 'shutting_down')
    const refused = await app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([['call_new', 'sleep', { ms: 1 }]]) })
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'shutting_down')
    assert.equal(refused.headers.connection, 'close')
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'liveness stays up: the process is not broken')

    const closed = app.close()
    const answered = await inFlight
    assert.equal(answered.status, 200)
    const reply = (await answered.json()) as { status: string; messages: Array<{ tool_call_id: string }> }
    assert.equal(reply.status, 'complete')
    assert.equal(reply.messages[0]?.tool_call_id, 'call_slow')
    await closed
  })
})
