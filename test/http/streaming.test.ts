import assert from 'node:assert/strict'
import { request } from 'node:http'
import { describe, it } from 'node:test'
import { assistantMessage, buildTestApp, listen, waitFor } from '../helpers/app.ts'
import { concurrencyProbe, sleepTool } from '../helpers/tools.ts'

interface StreamEvent {
  event: 'answer' | 'done'
  index?: number
  result?: { id: string; ok: boolean }
  messages?: Array<{ tool_call_id: string; content: string }>
  status?: string
  timing?: { wallMs: number }
}

const outOfOrder = assistantMessage([
  ['call_slow', 'sleep', { ms: 150 }],
  ['call_fast', 'sleep', { ms: 5 }],
  ['call_mid', 'sleep', { ms: 60 }],
])

async function post(base: string, accept: string, body: unknown): Promise<Response> {
  return fetch(`${base}/execute`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) })
}

describe('POST /execute streaming its answers', () => {
  it('streams NDJSON: one event per call as it finishes, then the status', async (t) => {
    const base = await listen(await buildTestApp(t, { tools: [sleepTool] }))
    const response = await post(base, 'application/x-ndjson', outOfOrder)
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson')
    const events = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as StreamEvent)
    assert.deepEqual(
      events.map((event) => [event.event, event.index, event.result?.id]),
      [
        ['answer', 1, 'call_fast'],
        ['answer', 2, 'call_mid'],
        ['answer', 0, 'call_slow'],
        ['done', undefined, undefined],
      ],
    )
    // Each answer is already the provider's message for that call, exactly once.
    assert.deepEqual(
      events.slice(0, 3).map((event) => event.messages?.map((message) => message.tool_call_id)),
      [['call_fast'], ['call_mid'], ['call_slow']],
    )
    assert.equal(events[3]?.status, 'complete')
    assert.ok((events[3].timing?.wallMs ?? 0) >= 145)
  })

  it('streams server-sent events when asked for text/event-stream', async (t) => {
    const base = await listen(await buildTestApp(t, { tools: [sleepTool] }))
    const response = await post(base, 'text/event-stream', outOfOrder)
    assert.equal(response.headers.get('content-type'), 'text/event-stream')
    const blocks = (await response.text()).trim().split('\n\n')
    assert.deepEqual(
      blocks.map((block) => block.split('\n')[0]),
      ['event: answer', 'event: answer', 'event: answer', 'event: done'],
    )
    const ids = blocks
      .slice(0, 3)
      .map((block) => (JSON.parse(block.split('\n')[1]?.slice('data: '.length) ?? '') as StreamEvent).result?.id)
    assert.deepEqual(ids, ['call_fast', 'call_mid', 'call_slow'])
  })

  it('still refuses a batch it cannot admit with an ordinary JSON 503', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool], env: { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '1' } })
    const base = await listen(app)
    const response = await post(base, 'application/x-ndjson', outOfOrder)
    assert.equal(response.status, 503)
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'queue_full')
  })

  it('cancels the calls still running when the client stops reading', async (t) => {
    const { tool, stats } = concurrencyProbe('probe', 30_000)
    const base = await listen(await buildTestApp(t, { tools: [sleepTool, tool] }))
    const body = JSON.stringify(
      assistantMessage([
        ['quick', 'sleep', { ms: 1 }],
        ['long', 'probe'],
      ]),
    )
    let received = ''
    const client = request(
      `${base}/execute`,
      { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } },
      (response) => {
        response.on('data', (chunk: Buffer) => (received += chunk.toString()))
      },
    )
    client.on('error', () => undefined)
    client.end(body)
    await waitFor(() => received.includes('"quick"') && stats.running === 1, 'the first answer, with the long call running')
    client.destroy()
    await waitFor(() => stats.aborted === 1, 'the long call to be cancelled')
  })
})
