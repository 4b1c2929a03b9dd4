import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodePayload, payloadSchema, providers } from '../../src/providers/index.ts'
import type { PayloadShape } from '../../src/providers/provider.ts'
import { assistantMessage, chatCompletion } from '../helpers/app.ts'

/**
 * The body schema's fast path: `decodePayload` parses a body with the one shape its fields tell,
 * and must answer exactly what `payloadSchema.safeParse` (every shape tried in order) answers.
 */

const toolUse = (id: string, name: string) => ({ type: 'tool_use', id, name, input: { a: 1 } })
const chatChunk = (delta: object, extra: object = {}) => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: null }],
  ...extra,
})
const functionCall = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_time', arguments: '{}', status: 'completed' }
const responsesResponse = { id: 'resp', object: 'response', status: 'completed', output: [functionCall] }
const anthropicMessage = {
  id: 'msg',
  type: 'message',
  role: 'assistant',
  content: [{ type: 'text', text: 'Hi' }, toolUse('toolu_1', 'get_time')],
}
const geminiResponse = { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'get_time', args: {} } }] }, index: 0 }] }
const ollamaChunk = (done: boolean, toolCalls?: object[]) => ({
  model: 'qwen3',
  message: { role: 'assistant', content: '', ...(toolCalls === undefined ? {} : { tool_calls: toolCalls }) },
  done,
})

/** Bodies of every shape, and bodies near them. */
const samples: unknown[] = [
  chatCompletion([['call_1', 'get_time', {}]]),
  { object: 'chat.completion', choices: [] },
  { object: 'chat.completion', choices: [{ message: { role: 'user' } }] },
  assistantMessage([['call_1', 'get_time', {}]]),
  { role: 'assistant', content: null, tool_calls: null },
  { role: 'assistant', content: null, function_call: { name: 'get_time', arguments: '{}' } },
  { role: 'assistant', type: 'message', content: 'x' },
  [{ role: 'user', content: 'Hi' }, assistantMessage([['call_1', 'get_time', {}]])],
  [{ role: 'user', content: 'Hi' }],
  [{ role: 'robot' }],
  { message: [{ role: 'assistant', tool_calls: assistantMessage([['call_1', 'get_time', {}]]).tool_calls }] },
  { message: 'no' },
  responsesResponse,
  { object: 'response', output: [{ type: 'custom_tool_call', call_id: 'c', name: 'x', input: '' }] },
  [
    { type: 'response.output_item.added', output_index: 0, item: { ...functionCall, arguments: '' } },
    { type: 'response.output_item.done', output_index: 0, item: functionCall },
  ],
  [{ type: 'response.failed' }],
  anthropicMessage,
  { type: 'message', role: 'assistant', content: 'no' },
  [
    { type: 'message_start', message: { content: [] } },
    { type: 'content_block_start', index: 0, content_block: toolUse('toolu_s', 'get_time') },
    { type: 'content_block_stop', index: 0 },
  ],
  [{ type: 'message_start', message: { content: [] } }, { type: 'error' }],
  geminiResponse,
  { candidates: [] },
  { candidates: 'none' },
  [{ candidates: geminiResponse.candidates }, { usageMetadata: {} }],
  [{ usageMetadata: {} }],
  { model: 'qwen3', message: { role: 'assistant', tool_calls: [{ function: { name: 'get_time', arguments: {} } }] } },
  { model: 'qwen3', message: { role: 'user' } },
  [ollamaChunk(false, [{ function: { name: 'get_time', arguments: {} } }]), ollamaChunk(true)],
  [ollamaChunk(false), { error: 'crashed' }],
  [chatChunk({ tool_calls: [{ index: 0, id: 'call_s', type: 'function', function: { name: 'get_time', arguments: '{}' } }] })],
  [{ object: '', choices: [] }, chatChunk({ content: 'x' }), { object: 'chat.completion', choices: [] }],
  [chatChunk({ tool_calls: [{ index: 0, type: 'function', function: { name: 'get_time' } }] })],
  'data: {"object":"chat.completion.chunk","choices":[]}\n\n',
  '{"model":"qwen3","message":{"role":"assistant"},"done":true}\n',
  'data: {nope\n\n',
  '',
  {},
  [],
  [1, 2],
  [[]],
  null,
  42,
  true,
]

/** What a decoding answered, comparable: the data, the issues, or that it threw. */
function outcome(decode: () => { success: boolean; data?: unknown; error?: { issues: unknown } }): unknown {
  try {
    const result = decode()
    return result.success ? { data: result.data } : { issues: result.error?.issues }
  } catch (error) {
    return { threw: (error as Error).constructor.name }
  }
}

function assertSameAnswer(body: unknown): void {
  assert.deepEqual(
    outcome(() => decodePayload(body)),
    outcome(() => payloadSchema.safeParse(body)),
    JSON.stringify(body),
  )
}

const everyShape: Array<[string, PayloadShape]> = providers.flatMap((provider) =>
  [provider.payloads.response, ...(provider.payloads.streamed ?? []), ...(provider.payloads.parts ?? [])].map(
    (shape, index): [string, PayloadShape] => [`${provider.name} #${String(index)}`, shape],
  ),
)

describe('the body schema dispatches on the fields that tell a shape', () => {
  it("each shape's test holds of every body the shape accepts", () => {
    for (const [name, shape] of everyShape) {
      for (const body of samples) {
        if (shape.schema.safeParse(body).success)
          assert.ok(shape.looksLike(body), `${name} accepts, but its test refuses ${JSON.stringify(body)}`)
      }
    }
  })

  it('every sample body is told by one shape at least', () => {
    const accepted = samples.filter((body) => payloadSchema.safeParse(body).success)
    assert.ok(accepted.length >= 15)
    for (const body of accepted) assert.ok(everyShape.some(([, shape]) => shape.looksLike(body)) || typeof body === 'string')
  })

  it('answers what the union answers: the same decoding, or the same issues', () => {
    for (const body of samples) assertSameAnswer(body)
  })

  it('answers what the union answers for a body with a hostile length, where a shape before its own throws', () => {
    const hostile = { length: { toString: 1 } }
    for (const body of [
      { ...geminiResponse, choices: hostile },
      { ...anthropicMessage, choices: hostile },
      { ...assistantMessage([['call_1', 'get_time', {}]]), length: hostile },
      { model: 'qwen3', message: { role: 'assistant' }, candidates: hostile },
      [ollamaChunk(true), { object: 'chat.completion.chunk', choices: hostile }],
      { object: 'chat.completion', choices: hostile },
    ]) {
      assertSameAnswer(body)
    }
  })

  it('answers what the union answers for bodies made of the pieces of every shape', () => {
    const pieces = samples.flatMap((body) => (typeof body === 'object' && body !== null ? Object.entries(body) : []))
    const piece = fc.constantFrom(...pieces)
    const value = fc.oneof(fc.constantFrom(...samples), fc.jsonValue({ maxDepth: 3 }), fc.constant({ toString: 1 }))
    const body = fc.oneof(
      fc.constantFrom(...samples),
      // A body of one shape with fields of another, or with a field of any value.
      fc
        .tuple(fc.constantFrom(...samples), fc.array(piece, { maxLength: 3 }))
        .map(([base, extra]) =>
          typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...base, ...Object.fromEntries(extra) } : base,
        ),
      fc.tuple(fc.array(piece, { maxLength: 4 }), fc.constantFrom(...pieces.map(([key]) => key)), value).map(([entries, key, any]) => ({
        ...Object.fromEntries(entries),
        [key]: any,
      })),
      // Arrays of events of several streams.
      fc.array(
        fc.oneof(fc.constantFrom(...samples.flatMap((each): unknown[] => (Array.isArray(each) ? (each as unknown[]) : [each]))), value),
        {
          maxLength: 4,
        },
      ),
    )
    fc.assert(fc.property(body, assertSameAnswer), { numRuns: 3_000 })
  })
})
