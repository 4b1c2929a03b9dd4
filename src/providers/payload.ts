import { z } from 'zod'
import { RequestError } from '../errors.ts'
import { chatCompletionChunkSchema, parseServerSentEvents, reassembleToolCalls, type ChatCompletionChunk } from './openai-chat-stream.ts'

/** One tool call as the model wrote it, before anything is checked but its id and name. */
export interface RawToolCall {
  id: string
  name: string
  /** The model's JSON string, or an object a client already parsed. Checked per call, later. */
  arguments: unknown
  /** Where the call sits in the body, e.g. `choices[0].message.tool_calls[2]`. */
  path: string
  /** The payload carried no id for this call (Gemini, Ollama): toolgate made `id` up, and must not send it back. */
  assignedId?: true
}

export type PayloadFormat =
  | 'chat.completion'
  | 'assistant_message'
  | 'conversation'
  | 'sketch'
  | 'responses'
  | 'anthropic'
  | 'gemini'
  | 'ollama'
  | 'chat.completion.chunk'

/** The providers a payload can come from, as `?format=` names them. */
export const providerFormats = ['openai', 'responses', 'anthropic', 'gemini', 'ollama'] as const
export type ProviderFormat = (typeof providerFormats)[number]

/** The provider a detected payload shape belongs to. */
export function providerOf(format: PayloadFormat): ProviderFormat {
  if (format === 'responses' || format === 'anthropic' || format === 'gemini' || format === 'ollama') return format
  return 'openai'
}

/** Refuses a payload whose shape belongs to another provider than the one the client named. */
export function assertProvider(payload: NormalizedPayload, expected: ProviderFormat): void {
  const detected = providerOf(payload.format)
  if (detected !== expected) {
    throw new RequestError('invalid_payload', `The body is not a ${expected} payload: its shape is that of a payload from ${detected}.`, {
      path: 'body',
    })
  }
}

/** Any accepted body, reduced to the calls to run. */
export interface NormalizedPayload {
  format: PayloadFormat
  calls: RawToolCall[]
}

const toolCallSchema = z.object({
  id: z.string().min(1).describe("The model's tool_call_id; the answer carries it back."),
  type: z.literal('function').optional(),
  function: z.object({
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
})

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
    choices: z
      .array(z.object({ message: assistantMessageSchema.extend({ role: z.literal('assistant').optional() }) }))
      .min(1),
  })
  .describe('An OpenAI Chat Completions response; the calls of choices[0].message run.')
  .transform(
    (completion): NormalizedPayload => ({
      format: 'chat.completion',
      calls: toRawCalls(completion.choices[0]?.message.tool_calls, 'choices[0].message.tool_calls'),
    }),
  )

const assistantMessagePayload = assistantMessageSchema
  // An Anthropic message has role "assistant" too, and type "message": a malformed one must not pass for this shape.
  .extend({ type: z.never().optional() })
  .describe('One assistant message.')
  .transform(
    (message): NormalizedPayload => ({
      format: 'assistant_message',
      calls: toRawCalls(message.tool_calls, 'tool_calls'),
    }),
  )

const conversationPayload = z
  .array(z.union([assistantMessageSchema, otherMessageSchema]))
  .min(1)
  .describe("A conversation: an array of messages; the last assistant message's calls run.")
  .transform((messages): NormalizedPayload => {
    const index = messages.findLastIndex((message) => message.role === 'assistant')
    const last = messages[index]
    const toolCalls = last?.role === 'assistant' ? last.tool_calls : undefined
    return { format: 'conversation', calls: toRawCalls(toolCalls, `[${String(index)}].tool_calls`) }
  })

const sketchPayload = z
  .object({ message: z.array(z.looseObject({ tool_calls: toolCallsSchema })) })
  .describe("The reference sketch's shape: the calls of every item of `message` run, in order.")
  .transform(
    (response): NormalizedPayload => ({
      format: 'sketch',
      calls: response.message.flatMap((message, index) =>
        toRawCalls(message.tool_calls, `message[${String(index)}].tool_calls`),
      ),
    }),
  )

const functionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: z.string().min(1).describe('What the function_call_output answers (not the item id fc_...).'),
  name: z.string(),
  arguments: z.unknown().optional().meta({ type: ['string', 'object'] }),
})

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string(),
  input: z.unknown().optional().meta({ type: 'object' }),
})

/**
 * The items of a list that are calls (Responses output items, Anthropic content blocks, Gemini
 * parts), checked with `schema`, each issue reported at its own path; other items are passed over.
 */
function callsAmong<Item extends object, Call extends z.ZodType>(
  list: readonly Item[],
  listPath: PropertyKey[],
  isCall: (item: Item) => boolean,
  schema: Call,
  context: z.core.$RefinementCtx,
): Array<{ call: z.output<Call>; index: number; path: string }> | undefined {
  const calls: Array<{ call: z.output<Call>; index: number; path: string }> = []
  let valid = true
  const where = listPath.map((key) => (typeof key === 'number' ? `[${String(key)}]` : `.${String(key)}`)).join('').slice(1)
  for (const [index, item] of list.entries()) {
    if (!isCall(item)) continue
    const parsed = schema.safeParse(item)
    if (parsed.success) {
      calls.push({ call: parsed.data, index, path: `${where}[${String(index)}]` })
      continue
    }
    valid = false
    for (const issue of parsed.error.issues) {
      context.issues.push({ code: 'custom', message: issue.message, input: item, path: [...listPath, index, ...issue.path] })
    }
  }
  return valid ? calls : undefined
}

const anyItems = z.array(z.looseObject({ type: z.string() }))

const responsesPayload = z
  .object({ object: z.literal('response'), output: anyItems.describe('function_call items among reasoning, message and other items') })
  .describe('An OpenAI Responses API response; its function_call items run, keyed by call_id.')
  .transform((response, context): NormalizedPayload => {
    const found = callsAmong(response.output, ['output'], (item) => item.type === 'function_call', functionCallItem, context)
    if (found === undefined) return z.NEVER
    return {
      format: 'responses',
      calls: found.map(({ call, path }) => ({ id: call.call_id, name: call.name, arguments: call.arguments, path })),
    }
  })

const anthropicPayload = z
  .object({
    type: z.literal('message'),
    role: z.literal('assistant'),
    content: anyItems.describe('tool_use blocks among text, thinking and other blocks'),
  })
  .describe('An Anthropic Messages API response; its tool_use blocks run.')
  .transform((message, context): NormalizedPayload => {
    const found = callsAmong(message.content, ['content'], (block) => block.type === 'tool_use', toolUseBlock, context)
    if (found === undefined) return z.NEVER
    return {
      format: 'anthropic',
      calls: found.map(({ call, path }) => ({ id: call.id, name: call.name, arguments: call.input, path })),
    }
  })

const functionCallPart = z.object({
  functionCall: z.object({
    name: z.string(),
    args: z.unknown().optional().meta({ type: 'object' }),
    id: z.string().min(1).optional().describe('Only newer models send one.'),
  }),
})

const geminiPayload = z
  .object({
    candidates: z
      .array(z.object({ content: z.object({ parts: z.array(z.looseObject({})).optional() }).optional() }))
      .min(1),
  })
  .describe("A Google Gemini generateContent response; the functionCall parts of candidates[0] run.")
  .transform((response, context): NormalizedPayload => {
    const parts = response.candidates[0]?.content?.parts ?? []
    const found = callsAmong(parts, ['candidates', 0, 'content', 'parts'], (part) => 'functionCall' in part, functionCallPart, context)
    if (found === undefined) return z.NEVER
    return {
      format: 'gemini',
      calls: found.map(({ call, index, path }) => {
        const { name, args, id } = call.functionCall
        // Gemini calls may carry no id: the part's position names the call, so two calls of one tool stay apart.
        return { id: id ?? `gemini_call_${String(index)}`, name, arguments: args, path, ...(id === undefined ? { assignedId: true as const } : {}) }
      }),
    }
  })

const ollamaPayload = z
  .object({
    model: z.string(),
    message: z.object({
      role: z.literal('assistant'),
      tool_calls: z
        .array(
          z.object({
            id: z.string().min(1).optional().describe('Only newer servers send one.'),
            function: z.object({ name: z.string(), arguments: z.unknown().optional().meta({ type: 'object' }) }),
          }),
        )
        .nullish(),
    }),
  })
  .describe('An Ollama /api/chat response; the tool_calls of its message run.')
  .transform(
    (response): NormalizedPayload => ({
      format: 'ollama',
      calls: (response.message.tool_calls ?? []).map((call, index) => ({
        id: call.id ?? `ollama_call_${String(index)}`,
        name: call.function.name,
        arguments: call.function.arguments,
        path: `message.tool_calls[${String(index)}]`,
        ...(call.id === undefined ? { assignedId: true } : {}),
      })),
    }),
  )

/** A streamed response's tool calls, put back together; a call still without id or name is reported. */
function streamedCalls(chunks: readonly ChatCompletionChunk[], context: z.core.$RefinementCtx): NormalizedPayload {
  const calls: RawToolCall[] = []
  for (const call of reassembleToolCalls(chunks)) {
    const path = `tool_calls[${String(call.index)}]`
    if (call.id === undefined || call.name === undefined) {
      const missing = call.id === undefined ? 'id' : 'name'
      const [chunk, choice, fragment] = call.firstSeen
      const where = [chunk, 'choices', choice, 'delta', 'tool_calls', fragment, ...(missing === 'id' ? ['id'] : ['function', 'name'])]
      context.issues.push({ code: 'custom', message: `no chunk gave tool call ${String(call.index)} its ${missing}`, input: call, path: where })
      return z.NEVER
    }
    calls.push({ id: call.id, name: call.name, arguments: call.arguments, path })
  }
  return { format: 'chat.completion.chunk', calls }
}

const streamedChunksPayload = z
  .array(chatCompletionChunkSchema)
  .min(1)
  .describe('A streamed Chat Completions response: its chat.completion.chunk objects, in order; tool calls are put back together by index.')
  .transform((chunks, context) => streamedCalls(chunks, context))

const serverSentEventsPayload = z
  .string()
  .describe('The raw text/event-stream body of a streamed Chat Completions response (send it as text/event-stream).')
  .transform((text, context): NormalizedPayload => {
    let events: unknown[]
    try {
      events = parseServerSentEvents(text)
    } catch {
      context.issues.push({ code: 'custom', message: 'an event of the stream is not valid JSON', input: text, path: [] })
      return z.NEVER
    }
    const chunks = z.array(chatCompletionChunkSchema).min(1).safeParse(events)
    if (!chunks.success) {
      for (const issue of chunks.error.issues) context.issues.push({ code: 'custom', message: issue.message, input: text, path: ['events', ...issue.path] })
      return z.NEVER
    }
    return streamedCalls(chunks.data, context)
  })

/** The body of POST /execute: which shape it is follows from its fields. */
export const executePayloadSchema = z
  // Anthropic before the OpenAI assistant message: an Anthropic message also has role "assistant".
  .union([
    chatCompletionPayload,
    responsesPayload,
    anthropicPayload,
    geminiPayload,
    ollamaPayload,
    streamedChunksPayload,
    serverSentEventsPayload,
    assistantMessagePayload,
    conversationPayload,
    sketchPayload,
  ])
  .describe(
    'an OpenAI chat completion, an assistant message with tool_calls, a conversation (an array of messages), {"message": [...]} as in the reference sketch, an OpenAI Responses API response, an Anthropic Messages API response, a Gemini generateContent response, an Ollama /api/chat response, or a streamed Chat Completions response (its chunks, or its raw text/event-stream text)',
  )
