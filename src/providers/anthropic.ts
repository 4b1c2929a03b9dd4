import type { Tool as AnthropicTool, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages'
import { z } from 'zod'
import { anyItems, callsAmong } from './calls-among.ts'
import { defineProvider, jsonSchemaObject, type PayloadCalls } from './provider.ts'

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string(),
  input: z.unknown().optional().meta({ type: 'object' }),
})

const messagePayload = z
  .object({
    type: z.literal('message'),
    role: z.literal('assistant'),
    content: anyItems.describe('tool_use blocks among text, thinking and other blocks'),
  })
  .describe('An Anthropic Messages API response; its tool_use blocks run.')
  .transform((message, context): PayloadCalls => {
    const found = callsAmong(message.content, ['content'], (block) => block.type === 'tool_use', toolUseBlock, context)
    if (found === undefined) return z.NEVER
    return { shape: 'anthropic', calls: found.map(({ call, path }) => ({ id: call.id, name: call.name, arguments: call.input, path })) }
  })

const toolResultsMessage = z
  .object({
    role: z.literal('user'),
    content: z.array(
      z.object({ type: z.literal('tool_result'), tool_use_id: z.string(), content: z.string(), is_error: z.boolean().optional() }),
    ),
  })
  .describe('Anthropic: one user message holding every tool_result')

/** Anthropic's Messages API: tool_use blocks answered by tool_result blocks in one user message. */
export const anthropic = defineProvider({
  name: 'anthropic',
  payloads: { response: { schema: messagePayload, described: 'an Anthropic Messages API response' } },
  answerSchema: toolResultsMessage,
  answers: (calls): Array<z.output<typeof toolResultsMessage>> => {
    if (calls.length === 0) return []
    // One user message for the whole batch: Anthropic wants every tool_result of a turn together.
    const blocks = calls.map(
      ({ result, content }) =>
        ({
          type: 'tool_result' as const,
          tool_use_id: result.id,
          content,
          ...(result.ok ? {} : { is_error: true }),
        }) satisfies ToolResultBlockParam,
    )
    return [{ role: 'user', content: blocks }]
  },
  declarationsSchema: z
    .array(z.object({ name: z.string(), description: z.string(), input_schema: jsonSchemaObject }))
    .describe('format=anthropic: Messages API tools'),
  declare: (tools) =>
    tools.map(
      ({ name, description, parameters }) =>
        ({ name, description, input_schema: parameters }) satisfies Omit<AnthropicTool, 'input_schema'> & {
          input_schema: Record<string, unknown>
        },
    ),
})
