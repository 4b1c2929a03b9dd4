import { z } from 'zod'
import { openaiChat } from './openai-chat.ts'
import { defineProvider, isRecord, type PayloadCalls, type RawToolCall } from './provider.ts'

const toolCallsSchema = z
  .array(
    z.object({
      id: z.string().min(1).optional().describe('Only newer servers send one; the answer carries it back as tool_call_id.'),
      function: z.object({ name: z.string(), arguments: z.unknown().optional().meta({ type: 'object' }) }),
    }),
  )
  .nullish()

const messageSchema = z.object({ role: z.literal('assistant'), tool_calls: toolCallsSchema })

type ToolCalls = z.output<typeof toolCallsSchema>

/**
 * The calls of one or more messages, in order. A call without an id is named by its position
 * among all of them, so that two calls of one stream never share a made-up id.
 */
function toRawCalls(messages: ReadonlyArray<{ toolCalls: ToolCalls; path: string }>): RawToolCall[] {
  const calls: RawToolCall[] = []
  for (const { toolCalls, path } of messages) {
    for (const [index, call] of (toolCalls ?? []).entries()) {
      calls.push({
        id: call.id ?? `ollama_call_${String(calls.length)}`,
        name: call.function.name,
        arguments: call.function.arguments,
        path: `${path}[${String(index)}]`,
        ...(call.id === undefined ? { assignedId: true as const } : {}),
      })
    }
  }
  return calls
}

const chatPayload = z
  .object({ model: z.string(), message: messageSchema })
  .describe('An Ollama /api/chat response; the tool_calls of its message run.')
  .transform((response): PayloadCalls => ({
    shape: 'ollama',
    calls: toRawCalls([{ toolCalls: response.message.tool_calls, path: 'message.tool_calls' }]),
  }))

const streamedChunk = z.object({ model: z.string(), message: messageSchema, done: z.boolean() })

// Ollama ends a stream that failed midway with `{"error": "..."}`: the calls it would have sent are lost.
const errorChunk = z.object({ error: z.string() }).transform((chunk, context) => {
  context.issues.push({
    code: 'custom',
    message: 'Ollama ended the stream with an error; its calls may be missing',
    input: chunk,
    path: ['error'],
  })
  return z.NEVER
})

const streamedChunksPayload = z
  .array(z.union([streamedChunk, errorChunk]))
  .min(1)
  .describe('A streamed Ollama /api/chat response: its chunks, in order; every tool call of every chunk runs.')
  .transform((chunks): PayloadCalls => ({
    shape: 'ollama.stream',
    // Each call comes whole in one chunk, parallel calls in chunks of their own; the last chunk (done) holds the stats.
    calls: toRawCalls(chunks.map((chunk, at) => ({ toolCalls: chunk.message.tool_calls, path: `[${String(at)}].message.tool_calls` }))),
  }))

/** Ollama's native /api/chat: tool calls in its message, answered by tool messages naming the tool (and the call, when it had an id). */
export const ollama = defineProvider({
  name: 'ollama',
  payloads: {
    response: {
      schema: chatPayload,
      looksLike: (body) => isRecord(body) && typeof body.model === 'string' && isRecord(body.message),
      described: 'an Ollama /api/chat response',
    },
    streamed: [
      {
        schema: streamedChunksPayload,
        // Every chunk is one (an error chunk refuses the stream): the first is.
        looksLike: (body) =>
          Array.isArray(body) && isRecord(body[0]) && typeof body[0].model === 'string' && typeof body[0].done === 'boolean',
        described: 'a streamed Ollama /api/chat response (its chunks, or its raw application/x-ndjson text)',
      },
    ],
  },
  answerSchema: z
    .object({
      role: z.literal('tool'),
      content: z.string(),
      tool_name: z.string(),
      tool_call_id: z.string().optional().describe("The call's id; only for a call that had one."),
    })
    .describe('Ollama: one per call'),
  answers: (calls) =>
    calls.map(({ result, content, assignedId }) => ({
      role: 'tool' as const,
      content,
      tool_name: result.name,
      ...(assignedId ? {} : { tool_call_id: result.id }),
    })),
  // Ollama's `tools` parameter takes Chat Completions function tools.
  declarationsSchema: openaiChat.declarationsSchema.describe('format=ollama: function tools, as Chat Completions declares them'),
  declare: openaiChat.declare,
})
