/**
 * The exact bytes of the gateway's replies, over HTTP, for every payload shape it takes, its modes,
 * its refusals and its other routes: what proves a change to how replies are made (the serializer,
 * the payload schema's fast path) leaves them byte for byte the same. Only timing numbers are
 * normalized (set to 0). The snapshot is the file beside this one; after a change meant to alter
 * replies, regenerate it with `node --test --test-update-snapshots test/reply-bytes.test.ts` and
 * read its diff.
 */
import { after, before, describe, it } from 'node:test'
import { z } from 'zod'
import { buildApp, type App } from '../src/app.ts'
import { RichContent } from '../src/tools/content.ts'
import { defineTool } from '../src/tools/tool.ts'
import { assistantMessage, chatCompletion, listen, testConfig, type CallSpec } from './helpers/app.ts'

const fixedTool = defineTool({
  name: 'fixed',
  description: 'Answers a fixed object.',
  inputSchema: z.object({ n: z.int().optional() }),
  execute: ({ n }) => ({ answer: 42, nested: { zeta: [1, 2.5, null], alpha: 'é "quoted" \u2028' }, n: n ?? null }),
})

const boomTool = defineTool({
  name: 'boom',
  description: 'Throws.',
  inputSchema: z.object({}),
  execute(): never {
    throw new Error('the disk is on fire')
  },
})

const longTool = defineTool({
  name: 'long',
  description: 'Answers a string longer than the result limit.',
  inputSchema: z.object({}),
  execute: () => `${'abcdefghij'.repeat(60)}ü${'z'.repeat(100)}`,
})

const richTool = defineTool({
  name: 'rich',
  description: 'Answers content blocks: text, an image, a PDF.',
  inputSchema: z.object({}),
  execute: () => {
    const blocks = [
      { type: 'text' as const, text: 'a chart' },
      { type: 'image' as const, data: 'iVBORw0KGgo=', mimeType: 'image/png' },
      { type: 'resource' as const, resource: { uri: 'file:///r/report.pdf', mimeType: 'application/pdf', blob: 'JVBERi0=' } },
    ]
    return new RichContent(blocks, { content: blocks, isError: false })
  },
})

/**
 * Answers an object with an own `__proto__` key (as JSON.parse makes one from an upstream's text),
 * and declares such a key in its parameters: zod's records drop it, z.unknown keeps it.
 */
const protoTool = defineTool({
  name: 'proto',
  description: 'Answers an own __proto__ key.',
  inputSchema: z.object({}),
  parameters: JSON.parse('{"type":"object","properties":{},"__proto__":{"x":1}}') as Record<string, unknown>,
  execute: () => JSON.parse('{"__proto__":{"polluted":true},"kept":1}') as unknown,
})

const tools = [fixedTool, boomTool, longTool, richTool, protoTool]

/** Every number of a timing field set to 0, the rest byte for byte. */
const normalized = (text: string) =>
  text.replace(/"(durationMs|queuedMs|wallMs|sumMs)":-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (_match, key: string) => `"${key}":0`)

interface Case {
  method?: 'GET' | 'POST'
  url?: string
  /** Sent as JSON unless a string with its own content type. */
  body?: unknown
  contentType?: string
  accept?: string
}

let app: App
let base: string

before(async () => {
  app = await buildApp(testConfig({ TOOLGATE_MAX_RESULT_BYTES: '256' }), { tools, random: () => 0.5 })
  base = await listen(app)
})

after(() => app.close())

async function reply({ method = 'POST', url = '/execute', body, contentType, accept }: Case) {
  const headers: Record<string, string> = {}
  let sent: string | undefined
  if (body !== undefined) {
    sent = typeof body === 'string' && contentType !== undefined ? body : JSON.stringify(body)
    headers['content-type'] = contentType ?? 'application/json'
  }
  if (accept !== undefined) headers.accept = accept
  const response = await fetch(`${base}${url}`, { method, headers, body: sent })
  const bytes = Buffer.from(await response.arrayBuffer())
  return { status: response.status, contentType: response.headers.get('content-type'), body: normalized(bytes.toString('utf8')) }
}

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

const mixedCalls: CallSpec[] = [
  ['call_ok', 'fixed', { n: 7 }],
  ['call_boom', 'boom', {}],
  ['call_unknown', 'nope', {}],
  ['call_invalid', 'fixed', { n: 'seven' }],
  ['call_bad_json', 'fixed', '{"n": '],
  ['call_empty_args', 'fixed', ''],
]

const okCalls: CallSpec[] = [
  ['call_a', 'fixed', { n: 1 }],
  ['call_b', 'fixed', {}],
]

const chatChunk = (delta: object, extra: object = {}) => ({
  id: 'chatcmpl-s',
  object: 'chat.completion.chunk',
  created: 1_765_000_000,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: null }],
  ...extra,
})

const chatChunks = [
  chatChunk({ role: 'assistant', content: null }),
  chatChunk({ tool_calls: [{ index: 0, id: 'call_s1', type: 'function', function: { name: 'fixed', arguments: '' } }] }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: '{"n":' } }] }),
  chatChunk({ tool_calls: [{ index: 0, function: { arguments: '3}' } }] }),
  chatChunk({ tool_calls: [{ index: 1, id: 'call_s2', type: 'function', function: { name: 'boom', arguments: '{}' } }] }),
  chatChunk({}, { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
  chatChunk({}, { choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }),
]

const functionCall = (id: string, callId: string, name: string, args: string) => ({
  type: 'function_call',
  id,
  call_id: callId,
  name,
  arguments: args,
  status: 'completed',
})
const responsesResponse = (status: string, output: object[]) => ({ id: 'resp_s', object: 'response', status, model: 'gpt', output })
const reasoning = { type: 'reasoning', id: 'rs_s', summary: [] }
const responsesOutput = [reasoning, functionCall('fc_1', 'call_r1', 'fixed', '{"n":5}'), functionCall('fc_2', 'call_r2', 'long', '{}')]

const responsesEvents = [
  { type: 'response.created', response: responsesResponse('in_progress', []) },
  { type: 'response.output_item.added', output_index: 0, item: reasoning },
  { type: 'response.output_item.done', output_index: 0, item: reasoning },
  { type: 'response.output_item.added', output_index: 1, item: { ...responsesOutput[1], arguments: '', status: 'in_progress' } },
  { type: 'response.function_call_arguments.delta', output_index: 1, item_id: 'fc_1', delta: '{"n"' },
  { type: 'response.function_call_arguments.delta', output_index: 1, item_id: 'fc_1', delta: ':5}' },
  { type: 'response.function_call_arguments.done', output_index: 1, item_id: 'fc_1', name: 'fixed', arguments: '{"n":5}' },
  { type: 'response.output_item.done', output_index: 1, item: responsesOutput[1] },
  { type: 'response.completed', response: responsesResponse('completed', responsesOutput.slice(0, 2)) },
].map((event, sequence) => ({ ...event, sequence_number: sequence }))

const toolUse = (id: string, name: string, input: object = {}) => ({ type: 'tool_use', id, name, input })

const anthropicMessage = {
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude',
  content: [
    { type: 'text', text: 'Let me check.' },
    toolUse('toolu_1', 'fixed', { n: 2 }),
    toolUse('toolu_2', 'boom'),
    toolUse('toolu_3', 'rich'),
  ],
  stop_reason: 'tool_use',
  usage: { input_tokens: 1, output_tokens: 2 },
}

const anthropicEvents = [
  { type: 'message_start', message: { id: 'msg_s', type: 'message', role: 'assistant', model: 'claude', content: [], usage: {} } },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking.' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: toolUse('toolu_s1', 'fixed') },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"n"' } },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: ': 9}' } },
  { type: 'content_block_stop', index: 1 },
  { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 4 } },
  { type: 'message_stop' },
]

const geminiResponse = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [
          { text: 'Looking.' },
          { functionCall: { name: 'fixed', args: { n: 4 }, id: 'g1' } },
          { functionCall: { name: 'boom', args: {} } },
          { functionCall: { name: 'rich', args: {} } },
        ],
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  modelVersion: 'gemini',
}

const geminiChunk = (...parts: object[]) => ({ candidates: [{ content: { role: 'model', parts }, index: 0 }], modelVersion: 'gemini' })
const geminiChunks = [
  geminiChunk({ text: 'Looking ' }),
  geminiChunk({ functionCall: { name: 'fixed', args: { n: 8 } } }),
  geminiChunk({ functionCall: { name: 'fixed', args: {}, id: 'g_s2' } }),
  { usageMetadata: { promptTokenCount: 2, totalTokenCount: 3 } },
]

const ollamaResponse = {
  model: 'qwen3',
  created_at: '2026-01-01T00:00:00Z',
  message: {
    role: 'assistant',
    content: '',
    tool_calls: [{ function: { name: 'fixed', arguments: { n: 6 } } }, { id: 'call_o2', function: { name: 'boom', arguments: {} } }],
  },
  done: true,
}

const ollamaChunk = (content: string, toolCalls?: object[]) => ({
  model: 'qwen3',
  created_at: '2026-01-01T00:00:00Z',
  message: { role: 'assistant', content, ...(toolCalls === undefined ? {} : { tool_calls: toolCalls }) },
  done: false,
})
const ollamaChunks = [
  ollamaChunk('Let me'),
  ollamaChunk('', [{ function: { name: 'fixed', arguments: { n: 1 } } }]),
  ollamaChunk('', [{ id: 'call_os', function: { name: 'long', arguments: {} } }]),
  { ...ollamaChunk(''), done: true, done_reason: 'stop', eval_count: 3 },
]

const sse = (events: readonly object[], named = false) =>
  events
    .map((event) => `${named ? `event: ${String((event as { type?: string }).type)}\n` : ''}data: ${JSON.stringify(event)}\n\n`)
    .join('')
const ndjson = (chunks: readonly object[]) => chunks.map((one) => `${JSON.stringify(one)}\n`).join('')

const cases: Record<string, Case> = {
  // Every provider's response and the other shapes that carry calls.
  'openai chat completion, ok and every per-call error': { body: chatCompletion(mixedCalls) },
  'openai chat completion, truncated and rich results': {
    body: chatCompletion([
      ['call_long', 'long'],
      ['call_rich', 'rich'],
    ]),
  },
  'assistant message': { body: assistantMessage(okCalls) },
  'assistant message without calls (empty)': { body: { role: 'assistant', content: 'Hello.', tool_calls: null } },
  conversation: {
    body: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Go.' }, assistantMessage(okCalls)],
  },
  'sketch {message: [...]}': { body: { message: [{ role: 'assistant', tool_calls: assistantMessage(okCalls).tool_calls }] } },
  'responses response': { body: responsesResponse('completed', [...responsesOutput, functionCall('fc_3', 'call_r3', 'rich', '{}')]) },
  'anthropic message': { body: anthropicMessage },
  'gemini response': { body: geminiResponse },
  'ollama response': { body: ollamaResponse },
  'ollama response with a rich result': {
    body: { ...ollamaResponse, message: { role: 'assistant', tool_calls: [{ function: { name: 'rich', arguments: {} } }] } },
  },
  'openai chat completion, an output with an own __proto__ key': { body: chatCompletion([['call_p', 'proto']]) },
  'gemini response, an output with an own __proto__ key': {
    body: { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'proto', args: {} } }] }, index: 0 }] },
  },
  // Streams, as arrays of their events and as the raw text they were.
  'openai stream as chunks': { body: chatChunks },
  'openai stream as text/event-stream': { body: `${sse(chatChunks)}data: [DONE]\n\n`, contentType: 'text/event-stream' },
  'responses stream as events': { body: responsesEvents },
  'responses stream as text/event-stream': { body: sse(responsesEvents, true), contentType: 'text/event-stream' },
  'anthropic stream as events': { body: anthropicEvents },
  'anthropic stream as text/event-stream': { body: sse(anthropicEvents, true), contentType: 'text/event-stream' },
  'gemini stream as chunks': { body: geminiChunks },
  'gemini stream as text/event-stream': { body: sse(geminiChunks).replaceAll('\n', '\r\n'), contentType: 'text/event-stream' },
  'ollama stream as chunks': { body: ollamaChunks },
  'ollama stream as application/x-ndjson': { body: ndjson(ollamaChunks), contentType: 'application/x-ndjson' },
  // Modes.
  'mode=validate': { url: '/execute?mode=validate', body: chatCompletion(mixedCalls) },
  'mode=validate, anthropic': { url: '/execute?mode=validate', body: anthropicMessage },
  'mode=sequential': { url: '/execute?mode=sequential', body: chatCompletion(mixedCalls) },
  'format=openai, matching': { url: '/execute?format=openai', body: chatCompletion(okCalls) },
  'format=gemini, matching': { url: '/execute?format=gemini', body: geminiResponse },
  // Streamed replies.
  'streamed reply, application/x-ndjson': {
    url: '/execute?mode=sequential',
    body: chatCompletion(mixedCalls),
    accept: 'application/x-ndjson',
  },
  'streamed reply, text/event-stream, anthropic': { url: '/execute?mode=sequential', body: anthropicMessage, accept: 'text/event-stream' },
  'streamed reply asked for a validation (not streamed)': {
    url: '/execute?mode=validate',
    body: chatCompletion(okCalls),
    accept: 'application/x-ndjson',
  },
  // Refusals of payloads understood but not to be run.
  'refused: a legacy function_call': {
    body: { role: 'assistant', content: null, function_call: { name: 'fixed', arguments: '{}' } },
  },
  'refused: a legacy function_call in a conversation': {
    body: [
      { role: 'user', content: 'Go.' },
      { role: 'assistant', content: null, function_call: { name: 'fixed', arguments: '{}' } },
    ],
  },
  'refused: a custom_tool_call': {
    body: responsesResponse('completed', [{ type: 'custom_tool_call', id: 'ct_1', call_id: 'call_c', name: 'fixed', input: 'x' }]),
  },
  'refused: a stream that reports an error': {
    body: [...anthropicEvents.slice(0, 5), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }],
  },
  'refused: an Ollama stream ending in an error': { body: [ollamaChunks[0], { error: 'model crashed' }] },
  'refused: two calls with one id': {
    body: chatCompletion([
      ['same', 'fixed'],
      ['same', 'fixed'],
    ]),
  },
  // Invalid payloads.
  'invalid: an empty object': { body: {} },
  'invalid: a number': { body: 42 },
  'invalid: null': { body: null },
  'invalid: an empty array': { body: [] },
  'invalid: an array of numbers': { body: [1, 2] },
  'invalid: a chat completion without choices': { body: { object: 'chat.completion', choices: [] } },
  'invalid: a chat completion call without id': {
    body: {
      object: 'chat.completion',
      choices: [{ message: { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'fixed', arguments: '{}' } }] } }],
    },
  },
  'invalid: a chat completion with a bad role': {
    body: { object: 'chat.completion', choices: [{ message: { role: 'user', tool_calls: [] } }] },
  },
  'invalid: an assistant message with a bad tool call': {
    body: { role: 'assistant', tool_calls: [{ id: 'x', type: 'function', function: { name: 3 } }] },
  },
  'invalid: an anthropic message with a bad tool_use': {
    body: { ...anthropicMessage, content: [{ type: 'tool_use', id: '', name: 'fixed', input: {} }] },
  },
  'invalid: a malformed anthropic message (content not an array)': { body: { type: 'message', role: 'assistant', content: 'hi' } },
  'invalid: a responses response with a bad function_call': {
    body: responsesResponse('completed', [{ type: 'function_call', call_id: 7, name: 'fixed', arguments: '{}' }]),
  },
  'invalid: gemini candidates not an array': { body: { candidates: 'none' } },
  'invalid: gemini empty candidates': { body: { candidates: [] } },
  'invalid: an ollama response with a bad message': { body: { model: 'qwen3', message: { role: 'user' }, done: true } },
  'invalid: a stream with a misplaced chunk': { body: [chatChunks[0], { object: 'chat.completion', choices: [] }, chatChunks[1]] },
  'invalid: an openai stream call without id': {
    body: [chatChunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'fixed', arguments: '{}' } }] })],
  },
  'invalid: a gemini stream of chunks without candidates': { body: [{ usageMetadata: {} }] },
  'invalid: a raw stream with an event that is not JSON': { body: 'data: {nope\n\n', contentType: 'text/event-stream' },
  'invalid: a raw stream of no known shape': { body: 'data: {"a":1}\n\n', contentType: 'text/event-stream' },
  'invalid: an empty raw stream': { body: '\n', contentType: 'application/x-ndjson' },
  'invalid: a raw anthropic stream with a bad event': {
    body: sse([
      ...anthropicEvents.slice(0, 1),
      { type: 'content_block_delta', index: 5, delta: { type: 'input_json_delta', partial_json: '{}' } },
    ]),
    contentType: 'text/event-stream',
  },
  'invalid: a string as JSON': { body: 'just text' },
  'invalid: a hostile length': { body: { object: 'chat.completion', choices: { length: { toString: 1 } } } },
  'invalid JSON': { body: '{"choices": [', contentType: 'application/json' },
  'invalid: a __proto__ key': { body: '{"__proto__": {"x": 1}, "role": "assistant"}', contentType: 'application/json' },
  'empty JSON body': { body: '', contentType: 'application/json' },
  'unsupported media type': { body: 'hello', contentType: 'text/plain' },
  // ?format= and ?mode= refused.
  'format of another provider': { url: '/execute?format=anthropic', body: chatCompletion(okCalls) },
  'format of another provider, a stream': { url: '/execute?format=gemini', body: ollamaChunks },
  'format of another provider, a raw stream': {
    url: '/execute?format=openai',
    body: sse(anthropicEvents, true),
    contentType: 'text/event-stream',
  },
  'format given, payload invalid': { url: '/execute?format=anthropic', body: { type: 'message', role: 'assistant', content: 'x' } },
  'format given, payload of no shape': { url: '/execute?format=openai', body: {} },
  'wrong format': { url: '/execute?format=cohere', body: chatCompletion(okCalls) },
  'wrong mode': { url: '/execute?mode=fast', body: chatCompletion(okCalls) },
  // The other routes, whose replies go through the same serializer.
  'GET /tools': { method: 'GET', url: '/tools' },
  'GET /tools?format=responses': { method: 'GET', url: '/tools?format=responses' },
  'GET /tools?format=anthropic': { method: 'GET', url: '/tools?format=anthropic' },
  'GET /tools?format=gemini': { method: 'GET', url: '/tools?format=gemini' },
  'GET /tools?format=ollama': { method: 'GET', url: '/tools?format=ollama' },
  'GET /tools?format=nope': { method: 'GET', url: '/tools?format=nope' },
  'GET /healthz': { method: 'GET', url: '/healthz' },
  'GET /readyz': { method: 'GET', url: '/readyz' },
  'POST /admin/reload without an admin key': { url: '/admin/reload' },
  'GET /execute': { method: 'GET', url: '/execute' },
  'GET /nowhere': { method: 'GET', url: '/nowhere' },
}

describe('reply bytes', () => {
  for (const [name, spec] of Object.entries(cases)) {
    it(name, async (t) => {
      t.assert.snapshot(await reply(spec))
    })
  }
})
