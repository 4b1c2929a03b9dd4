import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, chatCompletion, type CallSpec } from '../helpers/app.ts'
import { sleepTool } from '../helpers/tools.ts'

const calls: CallSpec[] = [
  ['call_time', 'get_time', { timezone: 'Asia/Tokyo' }],
  ['call_date', 'get_date', { timezone: 'Asia/Tokyo' }],
]

async function execute(t: TestContext, payload: unknown, query = '') {
  const app = await buildTestApp(t)
  const response = await app.inject({
    method: 'POST',
    url: `/execute${query}`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  })
  return { response, body: response.json<ExecuteReply & { error?: { code: string; message: string; path?: string } }>() }
}

function assertTimeAndDate(body: ExecuteReply): void {
  assert.equal(body.status, 'complete')
  assert.deepEqual(
    body.messages.map((message) => [message.role, message.tool_call_id]),
    [
      ['tool', 'call_time'],
      ['tool', 'call_date'],
    ],
  )
  const [time, date] = body.messages.map((message) => JSON.parse(message.content) as Record<string, string>)
  assert.match(time?.datetime ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+09:00$/)
  assert.match(date?.date ?? '', /^\d{4}-\d{2}-\d{2}$/)
  assert.equal(body.errors, null)
}

describe('POST /execute payload shapes', () => {
  it('runs the calls of an OpenAI chat completion', async (t) => {
    const { response, body } = await execute(t, chatCompletion(calls))
    assert.equal(response.statusCode, 200)
    assertTimeAndDate(body)
  })

  it('runs the calls of a single assistant message', async (t) => {
    const { body } = await execute(t, assistantMessage(calls))
    assertTimeAndDate(body)
  })

  it("runs the last assistant message's calls of a conversation, not earlier ones", async (t) => {
    const conversation: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'What time is it in London?' },
      assistantMessage([['call_old', 'get_time', { timezone: 'Europe/London' }]]),
      { role: 'tool', tool_call_id: 'call_old', content: '{}' },
      { role: 'user', content: 'And the date and time in Tokyo?' },
      assistantMessage(calls),
    ]
    const { body } = await execute(t, conversation)
    assertTimeAndDate(body)
  })

  it("runs every call of the reference sketch's {message: [...]} shape, in order", async (t) => {
    const sketch = {
      message: [
        { role: 'assistant', tool_calls: assistantMessage(calls.slice(0, 1)).tool_calls },
        { role: 'user', content: 'no calls here' },
        { role: 'assistant', tool_calls: assistantMessage(calls.slice(1)).tool_calls },
      ],
    }
    const { body } = await execute(t, sketch)
    assertTimeAndDate(body)
  })

  it('takes already-parsed object arguments, and "" as {}', async (t) => {
    const message = assistantMessage([
      ['a', 'get_time', { timezone: 'Asia/Tokyo' }],
      ['b', 'get_date', ''],
    ])
    const first = message.tool_calls[0]
    assert.ok(first)
    ;(first.function as { arguments: unknown }).arguments = { timezone: 'Asia/Tokyo' }
    const { body } = await execute(t, message)
    assert.equal(body.status, 'complete')
    assert.match(body.messages[0]?.content ?? '', /\+09:00/)
    assert.match(body.messages[1]?.content ?? '', /"timezone":"UTC"/)
  })

  it('answers "empty" for a message without tool calls, and for tool_calls: null', async (t) => {
    for (const payload of [
      { role: 'assistant', content: 'Hello!' },
      { role: 'assistant', content: 'Hello!', tool_calls: null },
      chatCompletion([]),
    ]) {
      const { response, body } = await execute(t, payload)
      assert.equal(response.statusCode, 200)
      assert.deepEqual(
        { status: body.status, messages: body.messages, errors: body.errors },
        { status: 'empty', messages: [], errors: null },
      )
    }
  })

  it('runs the same calls one at a time with mode=sequential', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool] })
    const payload = assistantMessage([
      ['a', 'sleep', { ms: 60 }],
      ['b', 'sleep', { ms: 60 }],
      ['c', 'sleep', { ms: 60 }],
    ])
    const sequential = (await app.inject({ method: 'POST', url: '/execute?mode=sequential', payload })).json<ExecuteReply>()
    assert.equal(sequential.status, 'complete')
    // One at a time: the batch takes at least the sum of the three waits (timers may fire a
    // millisecond early against performance.now, hence the slack).
    assert.ok(sequential.timing.wallMs >= 170, `sequential wall ${String(sequential.timing.wallMs)} ms`)
    assert.ok(sequential.timing.wallMs >= sequential.timing.sumMs * 0.99)
    const parallel = (await app.inject({ method: 'POST', url: '/execute?mode=parallel', payload })).json<ExecuteReply>()
    assert.equal(parallel.status, 'complete')
    assert.ok(parallel.timing.sumMs >= 170)
    // Concurrent: the wall time is below the sum (each call waited 60 ms, together).
    assert.ok(parallel.timing.wallMs < parallel.timing.sumMs, JSON.stringify(parallel.timing))
  })
})

describe('POST /execute?mode=validate', () => {
  it('answers one verdict per call with the codes execution would give, and runs nothing', async (t) => {
    let ran = 0
    const counting = { ...sleepTool, execute: () => ++ran }
    const app = await buildTestApp(t, { tools: [counting] })
    const payload = assistantMessage([
      ['a', 'sleep', { ms: 10 }],
      ['b', 'sleep', { ms: 'soon' }],
      ['c', 'slep', {}],
      ['d', 'sleep', '{oops'],
    ])
    const response = await app.inject({ method: 'POST', url: '/execute?mode=validate', payload })
    assert.equal(response.statusCode, 200)
    const reply = response.json<{
      status: string
      results: Array<{ id: string; ok: boolean; error?: { code: string; message: string } }>
      errors: string
    }>()
    assert.equal(reply.status, 'partial')
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.ok, result.error?.code]),
      [
        ['a', true, undefined],
        ['b', false, 'invalid_arguments'],
        ['c', false, 'unknown_tool'],
        ['d', false, 'invalid_arguments'],
      ],
    )
    assert.match(reply.results[2]?.error?.message ?? '', /Did you mean "sleep"\?/)
    assert.match(reply.errors, /^Multiple errors occurred:\nsleep: arguments do not match the schema of sleep/)
    assert.equal(ran, 0)
  })

  it('takes no room in the queue: a batch larger than its capacity is still checked', async (t) => {
    const app = await buildTestApp(t, { env: { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '0' } })
    const payload = assistantMessage([
      ['a', 'get_time', {}],
      ['b', 'get_date', {}],
    ])
    const validated = await app.inject({ method: 'POST', url: '/execute?mode=validate', payload })
    assert.equal(validated.json<{ status: string }>().status, 'complete')
    const executed = await app.inject({ method: 'POST', url: '/execute', payload })
    assert.equal(executed.statusCode, 503)
  })
})

describe('POST /execute refuses what it cannot understand', () => {
  const cases: Array<{ name: string; payload: unknown; code: string; path?: string; status?: number }> = [
    { name: 'an empty object', payload: {}, code: 'invalid_payload', path: 'body' },
    { name: 'a string', payload: 'hello', code: 'invalid_payload', path: 'body' },
    {
      name: 'a tool call without an id',
      payload: { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'get_time', arguments: '{}' } }] },
      code: 'invalid_payload',
      path: 'body.tool_calls[0].id',
    },
    {
      name: 'a chat completion whose tool call has a numeric name',
      payload: {
        object: 'chat.completion',
        choices: [{ message: { role: 'assistant', tool_calls: [{ id: 'x', function: { name: 5 } }] } }],
      },
      code: 'invalid_payload',
      path: 'body.choices[0].message.tool_calls[0].function.name',
    },
    {
      name: 'a chat completion without choices',
      payload: { object: 'chat.completion', choices: [] },
      code: 'invalid_payload',
      path: 'body.choices',
    },
    {
      name: 'a conversation whose assistant message has a malformed call',
      payload: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: [{ id: 'a', function: {} }] },
      ],
      code: 'invalid_payload',
      path: 'body[1].tool_calls[0].function.name',
    },
    {
      name: 'two calls with one id',
      payload: assistantMessage([
        ['same', 'get_time'],
        ['same', 'get_date'],
      ]),
      code: 'duplicate_tool_call_id',
      path: 'body.tool_calls[1].id',
    },
    {
      name: 'an unknown mode',
      payload: assistantMessage(calls),
      code: 'invalid_query',
      path: 'query.mode',
    },
  ]

  for (const { name, payload, code, path } of cases) {
    it(`answers 400 ${code} for ${name}`, async (t) => {
      const query = code === 'invalid_query' ? '?mode=fast' : ''
      const { response, body } = await execute(t, payload, query)
      assert.equal(response.statusCode, 400)
      assert.equal(body.error?.code, code)
      assert.equal(body.error.path, path)
      assert.doesNotMatch(JSON.stringify(body), /at .*\.ts:\d+|stack/i, 'no stack trace')
    })
  }

  it('names what it expected when the body matches no shape', async (t) => {
    const { body } = await execute(t, { hello: 'world' })
    assert.match(body.error?.message ?? '', /chat completion, an assistant message/)
    assert.doesNotMatch(body.error?.message ?? '', /hello|world/, 'no input echo')
  })

  it('answers 400 invalid_json for a body that is not JSON, empty, or carries __proto__', async (t) => {
    const app = await buildTestApp(t)
    for (const payload of ['{"role": "assistant",', '', '{"role":"assistant","__proto__":{"x":1}}']) {
      const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload })
      assert.equal(response.statusCode, 400, payload)
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'invalid_json')
    }
  })

  it('answers 415 for a body that is not JSON by its content type', async (t) => {
    const app = await buildTestApp(t)
    const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'text/plain' }, payload: 'hi' })
    assert.equal(response.statusCode, 415)
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'unsupported_media_type')
  })

  it('answers 413 for a body over TOOLGATE_MAX_BODY_BYTES', async (t) => {
    const app = await buildTestApp(t, { env: { TOOLGATE_MAX_BODY_BYTES: '1000' } })
    const payload = assistantMessage([['a', 'get_time', { timezone: 'x'.repeat(2000) }]])
    const response = await app.inject({ method: 'POST', url: '/execute', payload })
    assert.equal(response.statusCode, 413)
    assert.deepEqual(response.json(), { error: { code: 'body_too_large', message: 'The body is larger than the limit of 1000 bytes.' } })
  })

  it('answers 400 too_many_calls past TOOLGATE_MAX_CALLS_PER_REQUEST, and runs nothing', async (t) => {
    let ran = 0
    const counting = { ...sleepTool, execute: () => ++ran }
    const app = await buildTestApp(t, { env: { TOOLGATE_MAX_CALLS_PER_REQUEST: '3' }, tools: [counting] })
    const specs: CallSpec[] = ['a', 'b', 'c', 'd'].map((id) => [id, 'sleep', { ms: 0 }])
    const response = await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage(specs) })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json<{ error: object }>().error, {
      code: 'too_many_calls',
      message: 'The payload holds 4 tool calls; at most 3 are accepted per request.',
      path: 'body.tool_calls[3]',
    })
    const accepted = await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage(specs.slice(0, 3)) })
    assert.equal(accepted.json<ExecuteReply>().status, 'complete')
    assert.equal(ran, 3)
  })

  it('answers 404 with the error shape for an unknown route', async (t) => {
    const app = await buildTestApp(t)
    const response = await app.inject({ method: 'GET', url: '/nope' })
    assert.equal(response.statusCode, 404)
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'not_found')
  })
})
