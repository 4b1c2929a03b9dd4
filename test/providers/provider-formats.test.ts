import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages'
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions'
import type { ResponseInputItem } from 'openai/resources/responses/responses'
import { z } from 'zod'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import type { ToolMessage } from '../../src/providers/index.ts'
import { defineTool } from '../../src/tools/tool.ts'
import { buildTestApp } from '../helpers/app.ts'

/** A Responses API response as documented: reasoning, two function calls (one with empty arguments), a message. */
const responsesPayload = {
  id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
  object: 'response',
  created_at: 1_741_476_542,
  status: 'completed',
  model: 'gpt-4.1-2025-04-14',
  output: [
    { type: 'reasoning', id: 'rs_67ccd3d1', summary: [] },
    {
      type: 'function_call',
      id: 'fc_12345xyz',
      call_id: 'call_12345xyz',
      name: 'get_time',
      arguments: '{"timezone":"Asia/Tokyo"}',
      status: 'completed',
    },
    { type: 'function_call', id: 'fc_67890abc', call_id: 'call_67890abc', name: 'get_date', arguments: '', status: 'completed' },
    {
      type: 'function_call',
      id: 'fc_bad',
      call_id: 'call_bad',
      name: 'get_time',
      arguments: '{"timezone":"Nowhere"}',
      status: 'completed',
    },
    {
      type: 'message',
      id: 'msg_67ccd3ac',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'Checking.', annotations: [] }],
    },
  ],
  parallel_tool_calls: true,
  usage: { input_tokens: 291, output_tokens: 23, total_tokens: 314 },
}

/** An Anthropic Messages API response as documented: a text block, then tool_use blocks. */
const anthropicPayload = {
  id: 'msg_01Aq9w938a90dw8q',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [
    { type: 'text', text: "I'll look up the time and date in Tokyo." },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_time', input: { timezone: 'Asia/Tokyo' } },
    { type: 'tool_use', id: 'toolu_01B2c3d4e5f6', name: 'get_date', input: {} },
    { type: 'tool_use', id: 'toolu_01Cbad', name: 'get_wether', input: {} },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 472, output_tokens: 91 },
}

type Reply = ExecuteReply<ToolMessage> & { error?: { code: string; path?: string } }

async function execute(t: TestContext, payload: object): Promise<Reply> {
  const app = await buildTestApp(t)
  return (await app.inject({ method: 'POST', url: '/execute', payload })).json<Reply>()
}

describe('OpenAI Responses API payloads', () => {
  it('runs the function_call items among reasoning and message items, answering by call_id', async (t) => {
    const reply = await execute(t, responsesPayload)
    assert.equal(reply.status, 'partial')
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.error?.code ?? 'ok']),
      [
        ['call_12345xyz', 'ok'],
        ['call_67890abc', 'ok'],
        ['call_bad', 'invalid_arguments'],
      ],
    )
    assert.deepEqual(
      reply.messages.map((message) => Object.keys(message).sort()),
      [
        ['call_id', 'output', 'type'],
        ['call_id', 'output', 'type'],
        ['call_id', 'output', 'type'],
      ],
    )
    // The answers, appended after the response's own output items, make the next request's input.
    const input: ResponseInputItem[] = [
      { role: 'user', content: 'What time and date is it in Tokyo?' },
      ...responsesPayload.output.flatMap((item) =>
        item.type === 'function_call'
          ? [{ type: 'function_call' as const, call_id: String(item.call_id), name: String(item.name), arguments: String(item.arguments) }]
          : [],
      ),
      ...reply.messages.map((message): ResponseInputItem => {
        assert.ok('type' in message, 'a function_call_output item')
        return message
      }),
    ]
    assert.deepEqual(
      input.slice(4).map((item) => ('call_id' in item ? item.call_id : '')),
      ['call_12345xyz', 'call_67890abc', 'call_bad'],
    )
  })
})

describe('Anthropic Messages API payloads', () => {
  it('runs the tool_use blocks and answers with ONE user message of tool_result blocks, errors flagged', async (t) => {
    const reply = await execute(t, anthropicPayload)
    assert.equal(reply.status, 'partial')
    assert.equal(reply.messages.length, 1)
    const [answer] = reply.messages
    assert.ok(answer && 'role' in answer && answer.role === 'user' && 'content' in answer)
    assert.ok(Array.isArray(answer.content))
    assert.deepEqual(
      answer.content.map((block) => [block.type, block.tool_use_id, block.is_error ?? false]),
      [
        ['tool_result', 'toolu_01A09q90qw90lq917835lq9', false],
        ['tool_result', 'toolu_01B2c3d4e5f6', false],
        ['tool_result', 'toolu_01Cbad', true],
      ],
    )
    const refused = answer.content[2]?.content
    assert.ok(typeof refused === 'string')
    assert.match(refused, /"code":"unknown_tool"/)
    // The conversation continues with the assistant's content as it was, then the answer.
    const next: MessageParam[] = [
      { role: 'user', content: 'What time and date is it in Tokyo?' },
      { role: 'assistant', content: anthropicPayload.content as MessageParam['content'] },
      answer,
    ]
    assert.equal(next.length, 3)
  })

  it('answers no message at all when there is no tool_use block', async (t) => {
    const reply = await execute(t, { ...anthropicPayload, content: [{ type: 'text', text: 'Hello' }], stop_reason: 'end_turn' })
    assert.deepEqual([reply.status, reply.messages], ['empty', []])
  })

  it('refuses a tool_use block without an id, naming it', async (t) => {
    const reply = await execute(t, { ...anthropicPayload, content: [{ type: 'tool_use', name: 'get_time', input: {} }] })
    assert.equal(reply.error?.code, 'invalid_payload')
    assert.equal(reply.error.path, 'body.content[0].id')
  })
})

/** A Gemini generateContent response: a text part, two calls of one tool without ids, one with a thought signature. */
const geminiPayload = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [
          { text: 'Let me check both cities.' },
          { functionCall: { name: 'get_time', args: { timezone: 'Asia/Tokyo' } }, thoughtSignature: 'CiQBVKhc7xyz' },
          { functionCall: { name: 'get_time', args: { timezone: 'Europe/Paris' } } },
          { functionCall: { name: 'get_date', args: {}, id: 'fc-7f3a' } },
        ],
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 40, totalTokenCount: 160 },
  modelVersion: 'gemini-2.5-flash',
}

describe('Gemini generateContent payloads', () => {
  it('runs the functionCall parts, tells apart two calls of one tool without ids, and answers in one user content', async (t) => {
    const reply = await execute(t, geminiPayload)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.name]),
      [
        ['gemini_call_1', 'get_time'],
        ['gemini_call_2', 'get_time'],
        ['fc-7f3a', 'get_date'],
      ],
    )
    assert.equal(reply.messages.length, 1)
    const [answer] = reply.messages
    assert.ok(answer && 'parts' in answer)
    const responses = answer.parts.map((part) => part.functionResponse)
    // Each answer carries its own call's result: Tokyo's time first, then Paris's, never swapped.
    assert.deepEqual(
      responses.map((response) => [response.name, response.id, (response.response as { timezone?: string }).timezone]),
      [
        ['get_time', undefined, 'Asia/Tokyo'],
        ['get_time', undefined, 'Europe/Paris'],
        ['get_date', 'fc-7f3a', 'UTC'],
      ],
    )
  })

  it('answers a failed call with an error object as its response', async (t) => {
    const payload = {
      candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'get_time', args: { timezone: 'Mars' } } }] } }],
    }
    const reply = await execute(t, payload)
    const [answer] = reply.messages
    assert.ok(answer && 'parts' in answer)
    assert.equal((answer.parts[0]?.functionResponse.response as { error?: { code: string } }).error?.code, 'invalid_arguments')
  })
})

describe('a malformed call inside a provider payload', () => {
  it('is refused with the path of the field that is wrong', async (t) => {
    const reply = await execute(t, {
      candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }, { functionCall: { args: {} } }] } }],
    })
    assert.equal(reply.error?.code, 'invalid_payload')
    assert.equal(reply.error.path, 'body.candidates[0].content.parts[1].functionCall.name')
    const responses = await execute(t, { object: 'response', output: [{ type: 'function_call', name: 'get_time', arguments: '{}' }] })
    assert.equal(responses.error?.path, 'body.output[0].call_id')
  })
})

describe('Ollama /api/chat payloads', () => {
  it('runs tool_calls whose arguments are objects and answers with tool messages naming the tool', async (t) => {
    const reply = await execute(t, {
      model: 'llama3.2',
      created_at: '2026-11-24T10:00:00Z',
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [
          { function: { name: 'get_time', arguments: { timezone: 'Asia/Tokyo' } } },
          { function: { name: 'get_date', arguments: { timezone: 'Asia/Tokyo' } } },
        ],
      },
      done: true,
      done_reason: 'stop',
    })
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.messages.map((message) => ('tool_name' in message ? [message.role, message.tool_name] : [])),
      [
        ['tool', 'get_time'],
        ['tool', 'get_date'],
      ],
    )
    assert.match(JSON.stringify(reply.messages[0]), /\+09:00/)
  })
})

/** A streamed completion: id and name on the first fragment only, arguments split mid-string and mid-escape, explicit nulls, a closing usage chunk. */
function streamedChunks() {
  const chunk = (toolCalls: object[] | null, extra: object = {}) => ({
    id: 'chatcmpl-stream',
    object: 'chat.completion.chunk',
    created: 1_764_000_000,
    model: 'gpt-4o-mini',
    choices: toolCalls === null ? [] : [{ index: 0, delta: { tool_calls: toolCalls, ...extra }, finish_reason: null }],
  })
  return [
    chunk([], { role: 'assistant', content: null }),
    chunk([{ index: 0, id: 'call_s1', type: 'function', function: { name: 'echo', arguments: '' } }]),
    chunk([{ index: 0, function: { arguments: '{"text":"caf' } }]),
    chunk([{ index: 1, id: 'call_s2', type: 'function', function: { name: 'echo', arguments: '{"te' } }]),
    // "é" as an escape split in two, and an emoji's surrogate pair split across fragments.
    chunk([{ index: 0, id: null, function: { name: null, arguments: '\\u00' } }]),
    chunk([{ index: 0, function: { arguments: 'e9 \\ud83d' } }]),
    chunk([{ index: 1, function: { arguments: 'xt":"second"}' } }]),
    chunk([{ index: 0, function: { arguments: '\\ude00"}' } }]),
    { ...chunk(null), usage: { prompt_tokens: 50, completion_tokens: 30, total_tokens: 80 } },
  ]
}

describe('streamed Chat Completions payloads', () => {
  const echo = defineTool({
    name: 'echo',
    description: 'Echoes.',
    inputSchema: z.object({ text: z.string() }),
    execute: ({ text }) => text,
  })

  it('puts tool calls back together from their chunks, by index', async (t) => {
    const app = await buildTestApp(t, { tools: [echo] })
    const reply = (await app.inject({ method: 'POST', url: '/execute', payload: streamedChunks() })).json<ExecuteReply>()
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.messages.map((message) => [message.tool_call_id, message.content]),
      [
        ['call_s1', 'café 😀'],
        ['call_s2', 'second'],
      ],
    )
  })

  it('takes the raw text/event-stream body as well', async (t) => {
    const app = await buildTestApp(t, { tools: [echo] })
    const text = `${streamedChunks()
      .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
      .join('')}data: [DONE]\n\n`
    const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'text/event-stream' }, payload: text })
    const reply = response.json<ExecuteReply>()
    assert.deepEqual(
      reply.messages.map((message) => message.content),
      ['café 😀', 'second'],
    )
  })

  it('refuses a stream in which a call never got its id', async (t) => {
    const app = await buildTestApp(t, { tools: [echo] })
    const chunks = streamedChunks().filter((chunk) => !JSON.stringify(chunk).includes('call_s2'))
    const response = await app.inject({ method: 'POST', url: '/execute', payload: chunks })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), {
      error: {
        code: 'invalid_payload',
        message: 'Invalid value at body[5].choices[0].delta.tool_calls[0].id: no chunk gave tool call 1 its id',
        path: 'body[5].choices[0].delta.tool_calls[0].id',
      },
    })
  })
})

describe('?format=', () => {
  it('accepts a payload of the named provider, and refuses one of another, naming both', async (t) => {
    const app = await buildTestApp(t)
    const named = await app.inject({ method: 'POST', url: '/execute?format=anthropic', payload: anthropicPayload })
    assert.equal(named.statusCode, 200)
    const wrong = await app.inject({ method: 'POST', url: '/execute?format=gemini', payload: anthropicPayload })
    assert.equal(wrong.statusCode, 400)
    assert.deepEqual(wrong.json(), {
      error: {
        code: 'invalid_payload',
        message: 'The body does not match ?format=gemini: it has the shape ?format=anthropic takes.',
        path: 'body',
      },
    })
  })
})

describe('round trips: the answers appended to the conversation make a valid next request', () => {
  it('Chat Completions: the assistant message then one tool message per tool_call id, typed by the openai package', async (t) => {
    const app = await buildTestApp(t)
    const assistant = {
      role: 'assistant' as const,
      content: null,
      tool_calls: [
        { id: 'call_a', type: 'function' as const, function: { name: 'get_time', arguments: '{"timezone":"Asia/Tokyo"}' } },
        { id: 'call_b', type: 'function' as const, function: { name: 'get_date', arguments: '' } },
      ],
    }
    const reply = (await app.inject({ method: 'POST', url: '/execute', payload: assistant })).json<ExecuteReply>()
    const next: ChatCompletionCreateParamsNonStreaming = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'What time and date is it in Tokyo?' }, assistant, ...reply.messages],
    }
    // What the API checks: every tool_call id of the assistant message answered by exactly one tool message, right after it.
    const answered = next.messages.slice(2).map((message) => (message.role === 'tool' ? message.tool_call_id : ''))
    assert.deepEqual(
      answered,
      assistant.tool_calls.map((call) => call.id),
    )
  })

  it('Gemini: the model content then one user content whose functionResponse parts match the documented Content schema', async (t) => {
    const app = await buildTestApp(t)
    const reply = (await app.inject({ method: 'POST', url: '/execute', payload: geminiPayload })).json<ExecuteReply<ToolMessage>>()
    const part = z.strictObject({
      functionResponse: z.strictObject({ name: z.string(), id: z.string().optional(), response: z.record(z.string(), z.unknown()) }),
    })
    const content = z.strictObject({ role: z.enum(['user', 'model']), parts: z.array(z.looseObject({})).min(1) })
    const request = z.object({ contents: z.array(content) })
    const contents = [
      { role: 'user', parts: [{ text: 'What time is it in Tokyo and Paris?' }] },
      geminiPayload.candidates[0]?.content,
      ...reply.messages,
    ]
    assert.equal(request.safeParse({ contents }).success, true)
    // The answer itself, strictly: a user turn made only of functionResponse parts.
    assert.equal(z.array(z.strictObject({ role: z.literal('user'), parts: z.array(part).min(1) })).safeParse(reply.messages).success, true)
    const last = reply.messages.at(-1)
    assert.ok(last && 'parts' in last)
    assert.equal(last.parts.length, geminiPayload.candidates[0]?.content.parts.filter((item) => 'functionCall' in item).length)
  })

  it('Ollama: the assistant message then tool messages matching the documented /api/chat message schema', async (t) => {
    const app = await buildTestApp(t)
    const assistant = { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_date', arguments: { timezone: 'UTC' } } }] }
    const reply = (
      await app.inject({ method: 'POST', url: '/execute', payload: { model: 'llama3.2', message: assistant, done: true } })
    ).json<ExecuteReply<ToolMessage>>()
    const message = z.strictObject({
      role: z.enum(['system', 'user', 'assistant', 'tool']),
      content: z.string(),
      tool_calls: z.array(z.unknown()).optional(),
      tool_name: z.string().optional(),
    })
    const next = { model: 'llama3.2', messages: [{ role: 'user', content: 'What is the date?' }, assistant, ...reply.messages] }
    assert.equal(z.object({ model: z.string(), messages: z.array(message) }).safeParse(next).success, true)
  })
})
