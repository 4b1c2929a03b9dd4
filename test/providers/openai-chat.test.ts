import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { buildTestApp, chatCompletion, listen, type assistantMessage, type CallSpec } from '../helpers/app.ts'

type Reply = ExecuteReply & { error?: { code: string; path?: string; message: string } }

/** POSTs `body` to a real server's /execute: JSON, or raw text as `contentType`. */
async function execute(t: TestContext, body: unknown, contentType = 'application/json'): Promise<{ status: number; reply: Reply }> {
  // The shared machine's load must not turn a payload test into a 503.
  const base = await listen(await buildTestApp(t, { env: { TOOLGATE_MAX_EVENT_LOOP_DELAY_MS: '0' } }))
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, reply: (await response.json()) as Reply }
}

/** The calls as toolgate ran them: id, name, outcome, and the zone each answered for. */
function ran(reply: Reply): Array<[id: string, name: string, outcome: string, timezone?: unknown]> {
  return reply.results.map((result) => [
    result.id,
    result.name,
    result.error?.code ?? 'ok',
    (result.output as { timezone?: unknown } | undefined)?.timezone,
  ])
}

async function refused(t: TestContext, body: unknown, path: string, message?: RegExp, contentType?: string): Promise<void> {
  const { status, reply } = await execute(t, body, contentType)
  assert.equal(status, 400, JSON.stringify(reply))
  assert.equal(reply.error?.code, 'invalid_payload')
  assert.equal(reply.error.path, path)
  if (message !== undefined) assert.match(reply.error.message, message)
}

const tokyo = JSON.stringify({ timezone: 'Asia/Tokyo' })
const paris = JSON.stringify({ timezone: 'Europe/Paris' })

/** One chunk of a composed stream, choice 0 carrying `delta`. */
const chunk = (delta: object, extra: object = {}) => ({
  id: 'chatcmpl-compose1',
  object: 'chat.completion.chunk',
  created: 1_765_000_000,
  model: 'composed-model',
  choices: [{ index: 0, delta, finish_reason: null }],
  ...extra,
})

/** A content-filter chunk as Azure OpenAI opens its streams with: no choices, and an object of "". */
const filterChunk = {
  id: '',
  object: '',
  created: 0,
  model: '',
  choices: [],
  prompt_filter_results: [{ prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } }],
}

/** A composed chat completion of `calls`, its message as `edit` makes it. */
function completionOf(
  calls: CallSpec[],
  edit: (message: ReturnType<typeof assistantMessage> & { refusal: null }) => object = (message) => message,
) {
  const completion = chatCompletion(calls)
  return { ...completion, choices: completion.choices.map((choice) => ({ ...choice, message: edit(choice.message) })) }
}

const asEventStream = (chunks: readonly object[]) => `${chunks.map((each) => `data: ${JSON.stringify(each)}\n\n`).join('')}data: [DONE]\n\n`

describe('Chat Completions streams: chunks without choices before and after the others', () => {
  const stream = [
    filterChunk,
    chunk({ role: 'assistant', content: '' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_az1', type: 'function', function: { name: 'get_time', arguments: '{"timezone":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '"Asia/Tokyo"}' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_az2', type: 'function', function: { name: 'get_date', arguments: paris } }] }),
    // A closing chunk that carries no choices and names no object.
    { id: 'chatcmpl-compose1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 } },
  ]

  it('runs the calls of a stream opened by a content-filter chunk of object ""', async (t) => {
    const { status, reply } = await execute(t, stream)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.equal(reply.status, 'complete')
    assert.deepEqual(ran(reply), [
      ['call_az1', 'get_time', 'ok', 'Asia/Tokyo'],
      ['call_az2', 'get_date', 'ok', 'Europe/Paris'],
    ])
    assert.deepEqual(
      reply.messages
        .map((message) => message as { role: string; tool_call_id: string })
        .map(({ role, tool_call_id }) => [role, tool_call_id]),
      [
        ['tool', 'call_az1'],
        ['tool', 'call_az2'],
      ],
    )
  })

  it('takes the same stream as raw text/event-stream', async (t) => {
    const { status, reply } = await execute(t, asEventStream(stream), 'text/event-stream')
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(
      ran(reply).map(([id]) => id),
      ['call_az1', 'call_az2'],
    )
  })

  it('answers such a stream of text alone as empty', async (t) => {
    const { status, reply } = await execute(t, [filterChunk, chunk({ role: 'assistant', content: 'Paris.' }), chunk({ content: '' })])
    assert.equal(status, 200, JSON.stringify(reply))
    assert.equal(reply.status, 'empty')
  })

  it('refuses a chunk of another object between the others, naming its object', async (t) => {
    const misplaced = [stream[1], stream[2], filterChunk, stream[3]]
    await refused(t, misplaced, 'body[2].object', /chat\.completion\.chunk/)
    // Chunks without choices alone are no Chat Completions stream.
    await refused(t, [filterChunk], 'body[0].object')
  })

  it('refuses a chunk of another object that has choices, even first', async (t) => {
    await refused(t, [{ ...stream[2], object: '' }, stream[3]], 'body[0].object')
  })
})

describe('Chat Completions streams whose calls come whole, without index (Mistral)', () => {
  const wholeCall = (id: string, name: string, args: string) => ({ id, function: { name, arguments: args } })
  const whole = (id: string, name: string, args: string) => chunk({ content: null, tool_calls: [wholeCall(id, name, args)] })

  it('runs a call that has no index', async (t) => {
    const { status, reply } = await execute(t, [chunk({ role: 'assistant', content: '' }), whole('mTk0aZ1', 'get_time', tokyo)])
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [['mTk0aZ1', 'get_time', 'ok', 'Asia/Tokyo']])
  })

  it('keeps two whole calls without index two calls, in chunks of their own or in one', async (t) => {
    const apart = [whole('mA1', 'get_time', tokyo), whole('mB2', 'get_date', paris)]
    const together = [chunk({ tool_calls: [wholeCall('mA1', 'get_time', tokyo), wholeCall('mB2', 'get_date', paris)] })]
    for (const chunks of [apart, together]) {
      const { status, reply } = await execute(t, chunks)
      assert.equal(status, 200, JSON.stringify(reply))
      assert.deepEqual(ran(reply), [
        ['mA1', 'get_time', 'ok', 'Asia/Tokyo'],
        ['mB2', 'get_date', 'ok', 'Europe/Paris'],
      ])
    }
  })

  it('adds a fragment without index or id to the call being assembled', async (t) => {
    const chunks = [
      chunk({ tool_calls: [{ id: 'mC3', function: { name: 'get_time', arguments: '{"timezone"' } }] }),
      chunk({ tool_calls: [{ function: { arguments: ':"Asia/Tokyo"}' } }] }),
      // The same id again continues the call as well.
      chunk({ tool_calls: [{ id: 'mC3', function: { arguments: '' } }] }),
    ]
    const { status, reply } = await execute(t, chunks)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [['mC3', 'get_time', 'ok', 'Asia/Tokyo']])
  })
})

describe('what the official SDKs dump from real responses', () => {
  it('takes a completion accumulated by the openai Python SDK from a stream that repeated its role', async (t) => {
    const calls: CallSpec[] = [
      ['call_ol1', 'get_time', { timezone: 'Asia/Tokyo' }],
      ['call_ol2', 'get_date', { timezone: 'Europe/Paris' }],
    ]
    // ChatCompletionStreamState concatenates every chunk's role, and writes its own fields (index, parsed_arguments) with nulls.
    const completion = completionOf(calls, (message) => ({
      ...message,
      role: 'assistantassistantassistant',
      function_call: null,
      audio: null,
      parsed: null,
      tool_calls: message.tool_calls.map((call, index) => ({ ...call, index, function: { ...call.function, parsed_arguments: null } })),
    }))
    const { status, reply } = await execute(t, completion)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [
      ['call_ol1', 'get_time', 'ok', 'Asia/Tokyo'],
      ['call_ol2', 'get_date', 'ok', 'Europe/Paris'],
    ])
  })

  it('takes a role of null and a call type of null, as model_dump() writes what never came', async (t) => {
    const completion = completionOf([['call_nr1', 'get_time', { timezone: 'Asia/Tokyo' }]], (message) => ({
      ...message,
      role: null,
      tool_calls: message.tool_calls.map((call) => ({ ...call, type: null })),
    }))
    const { status, reply } = await execute(t, completion)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [['call_nr1', 'get_time', 'ok', 'Asia/Tokyo']])
  })

  it('still refuses a completion whose message has another role', async (t) => {
    for (const role of ['user', 'assistantuser']) {
      const completion = completionOf([['call_u1', 'get_time', { timezone: 'Asia/Tokyo' }]], (message) => ({ ...message, role }))
      await refused(t, completion, 'body.choices[0].message.role')
    }
  })

  it('takes chunks as model_dump() writes them: null for every field a chunk did not send', async (t) => {
    const dumped = (delta: object) =>
      chunk(
        { content: null, function_call: null, refusal: null, role: null, tool_calls: null, ...delta },
        { usage: null, service_tier: null },
      )
    const chunks = [
      dumped({ role: 'assistant', content: '' }),
      dumped({ tool_calls: [{ index: 0, id: 'call_d1', type: 'function', function: { name: 'get_time', arguments: '{"timezone":' } }] }),
      dumped({ tool_calls: [{ index: 0, id: null, type: null, function: { name: null, arguments: '"Asia/Tokyo"}' } }] }),
      // A Mistral chunk through the openai SDK: its missing index dumped as null.
      dumped({ tool_calls: [{ index: null, id: 'call_d2', type: null, function: { name: 'get_date', arguments: paris } }] }),
    ]
    const { status, reply } = await execute(t, chunks)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [
      ['call_d1', 'get_time', 'ok', 'Asia/Tokyo'],
      ['call_d2', 'get_date', 'ok', 'Europe/Paris'],
    ])
  })

  it('takes later fragments whose id or name is "", keeping what the first gave', async (t) => {
    const chunks = [
      chunk({ tool_calls: [{ index: 0, id: 'call_e1', type: 'function', function: { name: 'get_date', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, id: '', type: 'function', function: { name: '', arguments: tokyo } }] }),
    ]
    const { status, reply } = await execute(t, chunks)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [['call_e1', 'get_date', 'ok', 'Asia/Tokyo']])
  })
})

describe('what looks like a tool call but cannot be run is refused, naming the field', () => {
  const withMessage = (fields: object) => completionOf([], (message) => ({ ...message, tool_calls: undefined, ...fields }))

  it('refuses a custom tool call: its input is free-form text, not a JSON object', async (t) => {
    const custom = { id: 'call_cu1', type: 'custom', custom: { name: 'get_time', input: 'Asia/Tokyo' } }
    await refused(t, withMessage({ tool_calls: [custom] }), 'body.choices[0].message.tool_calls[0].type', /custom tool call.*JSON object/)
    await refused(t, { role: 'assistant', tool_calls: [custom] }, 'body.tool_calls[0].type', /custom tool call/)
  })

  it('refuses a tool call of a type it does not know', async (t) => {
    const call = { id: 'call_x1', type: 'mcp', function: { name: 'get_time', arguments: tokyo } }
    await refused(t, withMessage({ tool_calls: [call] }), 'body.choices[0].message.tool_calls[0].type', /function tool calls only/)
  })

  it('refuses a legacy function_call, whose answer toolgate does not write', async (t) => {
    const functionCall = { name: 'get_time', arguments: tokyo }
    await refused(t, withMessage({ function_call: functionCall }), 'body.choices[0].message.function_call.name', /role "function"/)
    await refused(t, { role: 'assistant', content: null, function_call: functionCall }, 'body.function_call.name')
    await refused(t, { message: [{ function_call: functionCall }] }, 'body.message[0].function_call.name')
    const conversation = [
      { role: 'user', content: 'What time is it in Tokyo?' },
      { role: 'assistant', function_call: functionCall },
    ]
    await refused(t, conversation, 'body[1].function_call.name', /role "function"/)
  })

  it('runs the last message of a conversation whose earlier message had a function_call, answered then', async (t) => {
    const conversation = [
      { role: 'assistant', content: null, function_call: { name: 'get_time', arguments: paris } },
      { role: 'function', name: 'get_time', content: '{"timezone":"Europe/Paris"}' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_lt1', type: 'function', function: { name: 'get_time', arguments: tokyo } }],
      },
    ]
    const { status, reply } = await execute(t, conversation)
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [['call_lt1', 'get_time', 'ok', 'Asia/Tokyo']])
  })

  it('answers a tool call with an empty name unknown_tool, as any name no tool has, and runs the others', async (t) => {
    const nameless = { id: 'call_en1', type: 'function', function: { name: '', arguments: tokyo } }
    const named = { id: 'call_en2', type: 'function', function: { name: 'get_time', arguments: paris } }
    const { status, reply } = await execute(t, withMessage({ tool_calls: [nameless, named] }))
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [
      ['call_en1', '', 'unknown_tool', undefined],
      ['call_en2', 'get_time', 'ok', 'Europe/Paris'],
    ])
  })

  it('refuses the same in a stream: a custom call, a legacy function_call, a call no chunk names', async (t) => {
    const opening = chunk({ role: 'assistant', content: null })
    const custom = chunk({ tool_calls: [{ index: 0, id: 'call_cs1', type: 'custom', custom: { name: 'get_time', input: 'Tokyo' } }] })
    await refused(t, [opening, custom], 'body[1].choices[0].delta.tool_calls[0].type', /custom tool call/)
    await refused(t, asEventStream([opening, custom]), 'body.events[1].choices[0].delta.tool_calls[0].type', /custom/, 'text/event-stream')
    await refused(
      t,
      [opening, chunk({ function_call: { name: 'get_time', arguments: tokyo } })],
      'body[1].choices[0].delta.function_call.name',
    )
    const nameless = chunk({ tool_calls: [{ index: 0, id: 'call_nn1', type: 'function', function: { arguments: tokyo } }] })
    await refused(t, [opening, nameless], 'body[1].choices[0].delta.tool_calls[0].function.name', /its name/)
  })

  it('answers a streamed call whose name is only ever "" unknown_tool', async (t) => {
    const opening = chunk({ role: 'assistant', content: null })
    const empty = chunk({ tool_calls: [{ index: 0, id: 'call_ne1', type: 'function', function: { name: '', arguments: tokyo } }] })
    const { status, reply } = await execute(t, [opening, empty])
    assert.equal(status, 200, JSON.stringify(reply))
    assert.deepEqual(ran(reply), [['call_ne1', '', 'unknown_tool', undefined]])
  })
})
