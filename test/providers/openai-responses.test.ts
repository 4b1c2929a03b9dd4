import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { ResponseInputItem } from 'openai/resources/responses/responses'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { buildTestApp, listen } from '../helpers/app.ts'

type Reply = ExecuteReply<{ type: 'function_call_output'; call_id: string; output: string }> & {
  error?: { code: string; message: string; path?: string }
}

async function post(t: TestContext, body: unknown, contentType = 'application/json'): Promise<{ status: number; reply: Reply }> {
  const base = await listen(await buildTestApp(t))
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, reply: (await response.json()) as Reply }
}

/** Each answer as [type, call_id, the timezone its output names]. */
function answered(reply: Reply): Array<[string, string, unknown]> {
  return reply.messages.map((message) => {
    // What the next request's input takes, as the SDK types it.
    const input: ResponseInputItem = message
    return [input.type, message.call_id, (JSON.parse(message.output) as { timezone?: string }).timezone]
  })
}

const functionCall = (id: string, callId: string, name: string, args: string, status = 'completed') => ({
  type: 'function_call',
  id,
  call_id: callId,
  name,
  arguments: args,
  status,
})
const message = {
  type: 'message',
  id: 'msg_s',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text: 'On it.', annotations: [] }],
}
const reasoning = { type: 'reasoning', id: 'rs_s', summary: [] }
const response = (status: string, output: object[]) => ({ id: 'resp_s', object: 'response', status, model: 'gpt-test', output })

/**
 * A streamed response: a reasoning item, two function calls whose arguments arrive in pieces
 * split mid-string, a message; `response.completed` holds the whole output.
 */
function streamedEvents(): Array<Record<string, unknown>> {
  const time = functionCall('fc_t', 'call_t', 'get_time', '{"timezone":"Asia/Tokyo"}')
  const date = functionCall('fc_d', 'call_d', 'get_date', '{"timezone":"Europe/Paris"}')
  const events: object[] = [
    { type: 'response.created', response: response('in_progress', []) },
    { type: 'response.in_progress', response: response('in_progress', []) },
    { type: 'response.output_item.added', output_index: 0, item: reasoning },
    { type: 'response.output_item.done', output_index: 0, item: reasoning },
    { type: 'response.output_item.added', output_index: 1, item: { ...time, arguments: '', status: 'in_progress' } },
    { type: 'response.function_call_arguments.delta', output_index: 1, item_id: 'fc_t', delta: '{"timezone":"Asi' },
    { type: 'response.function_call_arguments.delta', output_index: 1, item_id: 'fc_t', delta: 'a/Tokyo"}' },
    { type: 'response.function_call_arguments.done', output_index: 1, item_id: 'fc_t', name: 'get_time', arguments: time.arguments },
    { type: 'response.output_item.done', output_index: 1, item: time },
    { type: 'response.output_item.added', output_index: 2, item: { ...date, arguments: '', status: 'in_progress' } },
    { type: 'response.function_call_arguments.delta', output_index: 2, item_id: 'fc_d', delta: '{"timezone":' },
    { type: 'response.function_call_arguments.delta', output_index: 2, item_id: 'fc_d', delta: '"Europe/Paris"}' },
    { type: 'response.function_call_arguments.done', output_index: 2, item_id: 'fc_d', name: 'get_date', arguments: date.arguments },
    { type: 'response.output_item.done', output_index: 2, item: date },
    { type: 'response.output_item.added', output_index: 3, item: { ...message, status: 'in_progress', content: [] } },
    { type: 'response.output_text.delta', output_index: 3, content_index: 0, item_id: 'msg_s', delta: 'On it.' },
    { type: 'response.output_item.done', output_index: 3, item: message },
    { type: 'response.completed', response: response('completed', [reasoning, time, date, message]) },
  ]
  return events.map((event, sequence) => ({ ...event, sequence_number: sequence }))
}

const asEventStream = (events: ReadonlyArray<Record<string, unknown>>) =>
  events.map((event) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`).join('')

const bothCalls: Array<[string, string, unknown]> = [
  ['function_call_output', 'call_t', 'Asia/Tokyo'],
  ['function_call_output', 'call_d', 'Europe/Paris'],
]

describe('a streamed Responses API response', () => {
  it('runs its function calls, keyed by call_id, from the array of its events', async (t) => {
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

  it('reads the calls from response.completed alone, and loses none to a final event with an empty output', async (t) => {
    const events = streamedEvents()
    const final = events.at(-1) ?? {}
    const onlyFinal = await post(t, [events[0], final])
    assert.deepEqual(answered(onlyFinal.reply), bothCalls)
    const emptyFinal = await post(t, [...events.slice(0, -1), { ...final, response: response('completed', []) }])
    assert.deepEqual(answered(emptyFinal.reply), bothCalls)
  })

  it('answers the calls a stream cut short had finished (their arguments done)', async (t) => {
    // Cut after the first call's function_call_arguments.done: no output_item.done, no completed event.
    const { status, reply } = await post(t, streamedEvents().slice(0, 8))
    assert.equal(status, 200)
    assert.deepEqual(answered(reply), [bothCalls[0]])
  })

  it('refuses a stream cut short in the middle of a call, naming the event that announced it', async (t) => {
    const { status, reply } = await post(t, streamedEvents().slice(0, 11))
    assert.equal(status, 400)
    assert.deepEqual(reply.error, {
      code: 'invalid_payload',
      message:
        'Invalid value at body[9].output_index: the stream ends before this call is done: no response.output_item.done event for output_index 2',
      path: 'body[9].output_index',
    })
  })

  it('refuses a call a response.incomplete left incomplete', async (t) => {
    const events = streamedEvents().slice(0, 10)
    const time = functionCall('fc_t', 'call_t', 'get_time', '{"timezone":"Asia/Tokyo"}')
    const cut = functionCall('fc_d', 'call_d', 'get_date', '{"timez', 'incomplete')
    const incomplete = {
      type: 'response.incomplete',
      sequence_number: 10,
      response: response('incomplete', [reasoning, time, cut]),
    }
    const { status, reply } = await post(t, [...events, incomplete])
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body[10].response.output[2].status')
    assert.match(reply.error.message, /this call is incomplete/)
  })

  it('refuses a stream that reports an error or a failed response, at that event', async (t) => {
    const events = streamedEvents().slice(0, 9)
    const error = { type: 'error', sequence_number: 9, code: 'server_error', message: 'The server had an error.', param: null }
    const json = await post(t, [...events, error])
    assert.equal(json.status, 400)
    assert.equal(json.reply.error?.path, 'body[9].type')
    assert.match(json.reply.error.message, /the stream reports an error/)
    const raw = await post(t, asEventStream([...events, error]), 'text/event-stream')
    assert.deepEqual([raw.status, raw.reply.error?.path], [400, 'body.events[9].type'])
    const failed = await post(t, [...events, { type: 'response.failed', sequence_number: 9, response: response('failed', []) }])
    assert.equal(failed.reply.error?.path, 'body[9].type')
  })

  it('refuses a finished function call without its call_id, naming the field', async (t) => {
    const events = streamedEvents().slice(0, 9)
    const done = events[8] ?? {}
    const { status, reply } = await post(t, [...events.slice(0, 8), { ...done, item: { ...(done.item as object), call_id: undefined } }])
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body[8].item.call_id')
  })

  it('answers empty a stream that holds no call', async (t) => {
    const events = streamedEvents().filter(
      (event) => JSON.stringify(event).includes('msg_s') || String(event.type).startsWith('response.c'),
    )
    const final = { type: 'response.completed', sequence_number: 99, response: response('completed', [message]) }
    const { status, reply } = await post(t, [...events.slice(0, -1), final])
    assert.equal(status, 200)
    assert.deepEqual([reply.status, reply.messages], ['empty', []])
  })
})

describe('Responses items that want an answer toolgate cannot give', () => {
  const time = functionCall('fc_t', 'call_t', 'get_time', '{"timezone":"Asia/Tokyo"}')
  const customCall = { type: 'custom_tool_call', id: 'ctc_1', call_id: 'call_c', name: 'get_time', input: 'Asia/Tokyo' }

  it('refuses a custom_tool_call, naming the item and the answer it wants, instead of answering the rest', async (t) => {
    const { status, reply } = await post(t, response('completed', [time, customCall]))
    assert.equal(status, 400)
    assert.equal(reply.error?.code, 'invalid_payload')
    assert.equal(reply.error.path, 'body.output[1].type')
    assert.match(reply.error.message, /custom_tool_call takes free-form text.*custom_tool_call_output/)
  })

  it('refuses a custom_tool_call in a stream too', async (t) => {
    const events = [
      { type: 'response.created', sequence_number: 0, response: response('in_progress', []) },
      { type: 'response.output_item.done', sequence_number: 1, output_index: 0, item: customCall },
    ]
    const { status, reply } = await post(t, events)
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body[1].item.type')
  })

  it('refuses a client-executed tool_search_call, and passes over one the API ran', async (t) => {
    const search = { type: 'tool_search_call', id: 'ts_1', call_id: 'call_s', arguments: { query: 'time' }, status: 'completed' }
    const client = await post(t, response('completed', [{ ...search, execution: 'client' }, time]))
    assert.equal(client.status, 400)
    assert.equal(client.reply.error?.path, 'body.output[0].type')
    assert.match(client.reply.error.message, /tool_search_output/)
    const hosted = { type: 'tool_search_output', id: 'tso_1', call_id: null, execution: 'server', status: 'completed', tools: [] }
    const server = await post(t, response('completed', [{ ...search, call_id: null, execution: 'server' }, hosted, time]))
    assert.equal(server.status, 200)
    assert.deepEqual(answered(server.reply), [bothCalls[0]])
  })

  it('refuses the built-in tools the client runs, and passes over a shell_call the API ran in its container', async (t) => {
    const clientRun = [
      {
        type: 'computer_call',
        id: 'cu_1',
        call_id: 'call_cu',
        action: { type: 'screenshot' },
        pending_safety_checks: [],
        status: 'completed',
      },
      {
        type: 'local_shell_call',
        id: 'ls_1',
        call_id: 'call_ls',
        action: { type: 'exec', command: ['date'], env: {} },
        status: 'completed',
      },
      { type: 'apply_patch_call', id: 'ap_1', call_id: 'call_ap', operation: { type: 'delete_file', path: 'a.txt' }, status: 'completed' },
      {
        type: 'shell_call',
        id: 'sh_1',
        call_id: 'call_sh',
        action: { commands: ['date'] },
        environment: { type: 'local' },
        status: 'completed',
      },
    ]
    for (const item of clientRun) {
      const { status, reply } = await post(t, response('completed', [item, time]))
      assert.equal(status, 400, item.type)
      assert.equal(reply.error?.path, 'body.output[0].type')
      assert.match(reply.error.message, new RegExp(`${item.type}_output`))
    }
    const hosted = { ...clientRun[3], environment: { type: 'container_reference', container_id: 'cntr_1' } }
    const { reply } = await post(t, response('completed', [hosted, time]))
    assert.deepEqual(answered(reply), [bothCalls[0]])
  })
})
