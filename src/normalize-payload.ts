import { z } from 'zod'

/** One tool call as the model wrote it, before anything is checked but its id and name. */
export interface RawToolCall {
  id: string
  name: string
  /** The model's JSON string, or an object a client already parsed. Checked per call, later. */
  arguments: unknown
  /** Where the call sits in the body, e.g. `choices[0].message.tool_calls[2]`. */
  path: string
}

export type PayloadFormat = 'chat.completion' | 'assistant_message' | 'conversation' | 'sketch'

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

/** The body of POST /execute: which shape it is follows from its fields. */
export const executePayloadSchema = z
  .union([chatCompletionPayload, assistantMessagePayload, conversationPayload, sketchPayload])
  .describe(
    'an OpenAI chat completion, an assistant message with tool_calls, a conversation (an array of messages) or {"message": [...]} as in the reference sketch',
  )
