import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { buildTestApp, listen } from '../helpers/app.ts'

type ToolResults = { role: 'user'; content: Array<{ type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean }> }
type Reply = ExecuteReply<ToolResults> & { error?: { code: string; message: string; path?: string } }

async function post(t: TestContext, body: unknown, contentType = 'application/json'): Promise<{ status: number; reply: Reply }> {
  const base = await listen(await buildTestApp(t))
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, reply: (await response.json()) as Reply }
}

/** The answer's blocks as [type, tool_use_id, the timezone its content names, is_error]. */
function answered(reply: Reply): Array<[string, string, unknown, boolean]> {
  assert.equal(reply.messages.length, 1, 'ONE user message holding every tool_result')
  const [answer] = reply.messages
  assert.ok(answer !== undefined)
  // What the conversation continues with, as the SDK types it.
  const next: MessageParam = answer
  assert.equal(next.role, 'user')
  return answer.content.map((block) => {
    const content = JSON.parse(block.content) as { timezone?: string }
    return [block.type, block.tool_use_id, content.timezone, block.is_error ?? false]
  })
}

const toolUse = (id: string, name: string, input: object = {}) => ({ type: 'tool_use', id, name, input })
const delta = (index: number, partialJson: string) => ({
  type: 'content_block_delta',
  index,
  delta: { type: 'input_json_delta', partial_json: partialJson },
})

/**
 * A streamed message: a text block, a tool_use whose input arrives in pieces split mid-key and
 * mid-escape ("\u002F" is "/"), a tool_use whose pieces are all empty (its input is {}), pings.
 */
function streamedEvents(): object[] {
  return [
    {
      type: 'message_start',
      message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude-test', content: [], stop_reason: null, usage: {} },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'content_block_start', index: 1, content_block: toolUse('toolu_t', 'get_time') },
    delta(1, ''),
    delta(1, '{"time'),
    delta(1, 'zone": "Asia\\u00'),
    delta(1, '2FTokyo"}'),
    { type: 'content_block_stop', index: 1 },
    { type: 'content_block_start', index: 2, content_block: toolUse('toolu_d', 'get_date') },
    delta(2, ''),
    { type: 'content_block_stop', index: 2 },
    { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 42 } },
    { type: 'message_stop' },
  ]
}

const asEventStream = (events: readonly object[]) =>
  events.map((event) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`).join('')

const bothCalls: Array<[string, string, unknown, boolean]> = [
  ['tool_result', 'toolu_t', 'Asia/Tokyo', false],
  ['tool_result', 'toolu_d', 'UTC', false],
]

describe('a streamed Anthropic Messages API response', () => {
  it('runs its tool_use blocks, input joined from its pieces, as ONE user message of tool_result blocks', async (t) => {
    const { status, reply } = await post(t, streamedEvents())
    assert.equal(status, 200)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(answered(reply), bothCalls)
  })

  it('takes the raw text/event-stream text as well', async (t) => {
    const { status, reply } = await post(t, asEventStream(streamedEvents()), 'text/event-stream')
    assert.equal(status, 200)
    assert.deepEqual(answered(reply), bothCalls)
  })

  it('keeps the input a tool_use block started with when no piece follows', async (t) => {
    const events = streamedEvents().filter((event) => JSON.stringify(event) !== JSON.stringify(delta(2, '')))
    const paris = events.map((event) =>
      JSON.stringify(event).includes('toolu_d')
        ? { ...event, content_block: toolUse('toolu_d', 'get_date', { timezone: 'Europe/Paris' }) }
        : event,
    )
    const { reply } = await post(t, paris)
    assert.deepEqual(answered(reply)[1], ['tool_result', 'toolu_d', 'Europe/Paris', false])
  })

  it('runs a tool_use that message_start already holds, and takes a message_start sent twice', async (t) => {
    const [start, ...rest] = streamedEvents() as [{ message: object }, ...object[]]
    const held = { ...start, message: { ...start.message, content: [toolUse('toolu_h', 'get_date', { timezone: 'Asia/Tokyo' })] } }
    // The later blocks' indexes follow the held one.
    const shifted = rest.map((event) =>
      'index' in event && typeof event.index === 'number' ? { ...event, index: event.index + 1 } : event,
    )
    const { status, reply } = await post(t, [held, start, ...shifted])
    assert.equal(status, 200)
    assert.deepEqual(answered(reply), [['tool_result', 'toolu_h', 'Asia/Tokyo', false], ...bothCalls])
  })

  it('refuses a block index opened twice (two messages in one stream)', async (t) => {
    const events = streamedEvents()
    const { status, reply } = await post(t, [...events.slice(0, -1), ...events.slice(5, 11)])
    assert.equal(status, 400)
    assert.equal(reply.error?.path, `body[${String(events.length - 1)}].index`)
  })

  it('answers the blocks a stream cut short had closed', async (t) => {
    // Cut after the first tool_use's content_block_stop: no message_delta, no message_stop.
    const { status, reply } = await post(t, streamedEvents().slice(0, 11))
    assert.equal(status, 200)
    assert.deepEqual(answered(reply), [bothCalls[0]])
  })

  it('refuses a stream cut short inside a tool_use block, naming the event that opened it', async (t) => {
    const { status, reply } = await post(t, streamedEvents().slice(0, 9))
    assert.equal(status, 400)
    assert.deepEqual(reply.error, {
      code: 'invalid_payload',
      message: 'Invalid value at body[5].index: the stream ends before this block is done: no content_block_stop event for index 1',
      path: 'body[5].index',
    })
  })

  it('refuses a stream that reports an error, at that event', async (t) => {
    const error = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }
    const events = [...streamedEvents().slice(0, 11), error]
    const json = await post(t, events)
    assert.equal(json.status, 400)
    assert.equal(json.reply.error?.path, 'body[11].type')
    assert.match(json.reply.error.message, /the stream reports an error/)
    const raw = await post(t, asEventStream(events), 'text/event-stream')
    assert.deepEqual([raw.status, raw.reply.error?.path], [400, 'body.events[11].type'])
  })

  it('refuses a tool_use block without an id, and a piece of input for a block never opened, naming the field', async (t) => {
    const events = streamedEvents()
    const noId = events.map((event, at) =>
      at === 5 ? { ...event, content_block: { type: 'tool_use', name: 'get_time', input: {} } } : event,
    )
    const missing = await post(t, noId)
    assert.equal(missing.status, 400)
    assert.equal(missing.reply.error?.path, 'body[5].content_block.id')
    const orphan = await post(t, [...events.slice(0, 11), delta(7, '{}')])
    assert.equal(orphan.status, 400)
    assert.equal(orphan.reply.error?.path, 'body[11].index')
  })

  it('answers no message at all for a stream without tool_use', async (t) => {
    const events = streamedEvents()
    const { status, reply } = await post(t, [...events.slice(0, 5), ...events.slice(-2)])
    assert.equal(status, 200)
    assert.deepEqual([reply.status, reply.messages], ['empty', []])
  })
})
