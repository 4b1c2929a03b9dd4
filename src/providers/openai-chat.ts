import type { ChatCompletionFunctionTool, ChatCompletionToolMessageParam } from 'openai/resources/chat/completions'
import { z } from 'zod'
import {
  functionCallType,
  misplacedChunk,
  noLegacyFunctionCall,
  reassembleToolCalls,
  streamedChunkSchema,
  type StreamedChunk,
} from './openai-chat-stream.ts'
import { defineProvider, isRecord, jsonSchemaObject, type PayloadCalls, type RawToolCall } from './provider.ts'

const toolCallSchema = z.object({
  id: z.string().min(1).describe("The model's tool_call_id; the answer carries it back."),
  type: functionCallType,
  function: z.object({
    // An empty name is read, and answered unknown_tool like any name no tool has: one call never refuses its batch.
    name: z.string(),
    arguments: z
      .unknown()
      .optional()
      .meta({
        type: ['string', 'object'],
        description: 'A JSON object as a string (as models write it), or already parsed. "" means {}.',
      }),
  }),
})

const toolCallsSchema = z.array(toolCallSchema).nullish()

const assistantMessageSchema = z.object({
  role: z.literal('assistant'),
  content: z.unknown().optional(),
  tool_calls: toolCallsSchema,
  function_call: noLegacyFunctionCall,
})

/**
 * The role of a completion's message. The openai Python SDK's stream accumulator
 * (ChatCompletionStreamState) concatenates the role of every chunk, as it does every string:
 * "assistantassistant..." for a server that repeats it in each (Ollama's /v1), null for one that
 * never sent it; its `model_dump()` writes that message as it is.
 */
const completionRole = z
  .string()
  .regex(/^(?:assistant)+$/, 'expected "assistant"')
  .nullish()

/** An assistant message earlier in a conversation: a legacy function_call there was answered before. */
const pastAssistantMessageSchema = assistantMessageSchema.extend({ function_call: z.unknown().optional() })

const otherMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'tool', 'function']),
})

type ToolCallInput = z.output<typeof toolCallSchema>

function toRawCalls(toolCalls: ToolCallInput[] | null | undefined, path: string): RawToolCall[] {
  return (toolCalls ?? []).map((call, index) => ({
    id: call.id,
    name: call.function.name,
    arguments: call.function.arguments,
    path: `${path}[${String(index)}]`,
  }))
}

const chatCompletionPayload = z
  .object({
    object: z.literal('chat.completion'),
    choices: z.array(z.object({ message: assistantMessageSchema.extend({ role: completionRole }) })).min(1),
  })
  .describe('An OpenAI Chat Completions response; the calls of choices[0].message run.')
  .transform((completion): PayloadCalls => ({
    shape: 'chat.completion',
    calls: toRawCalls(completion.choices[0]?.message.tool_calls, 'choices[0].message.tool_calls'),
  }))

const assistantMessagePayload = assistantMessageSchema
  // An Anthropic message has role "assistant" too, and type "message": a malformed one must not pass for this shape.
  .extend({ type: z.never().optional() })
  .describe('One assistant message.')
  .transform((message): PayloadCalls => ({ shape: 'assistant_message', calls: toRawCalls(message.tool_calls, 'tool_calls') }))

const conversationPayload = z
  .array(z.union([pastAssistantMessageSchema, otherMessageSchema]))
  .min(1)
  .describe("A conversation: an array of messages; the last assistant message's calls run.")
  .transform((messages, context): PayloadCalls => {
    const index = messages.findLastIndex((message) => message.role === 'assistant')
    const last = messages[index]
    if (last?.role !== 'assistant') return { shape: 'conversation', calls: [] }
    const legacyCall = noLegacyFunctionCall.safeParse(last.function_call)
    if (!legacyCall.success) {
      for (const issue of legacyCall.error.issues) {
        context.issues.push({ code: 'custom', message: issue.message, input: last, path: [index, 'function_call', ...issue.path] })
      }
      return z.NEVER
    }
    return { shape: 'conversation', calls: toRawCalls(last.tool_calls, `[${String(index)}].tool_calls`) }
  })

const sketchPayload = z
  .object({ message: z.array(z.looseObject({ tool_calls: toolCallsSchema, function_call: noLegacyFunctionCall })) })
  .describe("The reference sketch's shape: the calls of every item of `message` run, in order.")
  .transform((response): PayloadCalls => ({
    shape: 'sketch',
    calls: response.message.flatMap((message, index) => toRawCalls(message.tool_calls, `message[${String(index)}].tool_calls`)),
  }))

/** A streamed response's tool calls, put back together; a call still without id or name is reported. */
function streamedCalls(chunks: readonly StreamedChunk[], context: z.core.$RefinementCtx): PayloadCalls {
  const misplaced = misplacedChunk(chunks)
  if (misplaced !== undefined) {
    context.issues.push({
      code: 'custom',
      message: 'expected "chat.completion.chunk": only a chunk without choices, before or after the others, may be of another object',
      input: chunks[misplaced],
      path: [misplaced, 'object'],
    })
    return z.NEVER
  }
  const calls: RawToolCall[] = []
  for (const call of reassembleToolCalls(chunks)) {
    const path = `tool_calls[${String(call.index)}]`
    if (call.id === undefined || call.name === undefined) {
      const missing = call.id === undefined ? 'id' : 'name'
      const [chunk, choice, fragment] = call.firstSeen
      const where = [chunk, 'choices', choice, 'delta', 'tool_calls', fragment, ...(missing === 'id' ? ['id'] : ['function', 'name'])]
      context.issues.push({
        code: 'custom',
        message: `no chunk gave tool call ${String(call.index)} its ${missing}`,
        input: call,
        path: where,
      })
      return z.NEVER
    }
    calls.push({ id: call.id, name: call.name, arguments: call.arguments, path })
  }
  return { shape: 'chat.completion.chunk', calls }
}

const streamedChunksPayload = z
  .array(streamedChunkSchema)
  .min(1)
  .describe(
    'A streamed Chat Completions response: its chat.completion.chunk objects, in order (and any chunk without choices before or after them); tool calls are put back together by index.',
  )
  .transform((chunks, context) => streamedCalls(chunks, context))

/**
 * OpenAI Chat Completions, and the shapes that carry its tool calls: one assistant message, a
 * conversation, the reference sketch's `{ message: [...] }`, and the streamed response (its chunks
 * or its raw event stream). Every OpenAI-compatible server (vLLM, LiteLLM, Groq, Ollama's /v1...)
 * speaks it.
 */
export const openaiChat = defineProvider({
  name: 'openai',
  payloads: {
    response: {
      schema: chatCompletionPayload,
      looksLike: (body) => isRecord(body) && body.object === 'chat.completion',
      described: 'an OpenAI chat completion',
    },
    streamed: [
      {
        schema: streamedChunksPayload,
        // A stream with no chat.completion.chunk is refused (misplacedChunk).
        looksLike: (body) => Array.isArray(body) && body.some((chunk) => isRecord(chunk) && chunk.object === 'chat.completion.chunk'),
        described: 'a streamed Chat Completions response (its chunks, or its raw text/event-stream text)',
      },
    ],
    parts: [
      {
        schema: assistantMessagePayload,
        looksLike: (body) => isRecord(body) && body.role === 'assistant' && body.type === undefined,
        described: 'an assistant message with tool_calls',
      },
      {
        schema: conversationPayload,
        looksLike: (body) => Array.isArray(body) && isRecord(body[0]) && typeof body[0].role === 'string',
        described: 'a conversation (an array of messages)',
      },
      {
        schema: sketchPayload,
        looksLike: (body) => isRecord(body) && Array.isArray(body.message),
        described: '{"message": [...]} as in the reference sketch',
      },
    ],
  },
  answerSchema: z
    .object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.string() })
    .describe('Chat Completions: one per call'),
  answers: (calls) =>
    calls.map(({ result, content }) => ({ role: 'tool', tool_call_id: result.id, content }) satisfies ChatCompletionToolMessageParam),
  declarationsSchema: z
    .array(
      z.object({
        type: z.literal('function'),
        function: z.object({ name: z.string(), description: z.string().optional(), parameters: jsonSchemaObject.optional() }),
      }),
    )
    .describe('format=openai: Chat Completions function tools'),
  declare: (tools) =>
    tools.map(({ name, description, parameters }): ChatCompletionFunctionTool => ({
      type: 'function',
      function: { name, description, parameters },
    })),
})
