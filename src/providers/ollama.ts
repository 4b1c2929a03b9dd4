import { z } from 'zod'
import { openaiChat } from './openai-chat.ts'
import { defineProvider, type PayloadCalls } from './provider.ts'

const chatPayload = z
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
  .transform((response): PayloadCalls => ({
    shape: 'ollama',
    calls: (response.message.tool_calls ?? []).map((call, index) => ({
      id: call.id ?? `ollama_call_${String(index)}`,
      name: call.function.name,
      arguments: call.function.arguments,
      path: `message.tool_calls[${String(index)}]`,
      ...(call.id === undefined ? { assignedId: true as const } : {}),
    })),
  }))

/** Ollama's native /api/chat: tool calls in its message, answered by tool messages naming the tool. */
export const ollama = defineProvider({
  name: 'ollama',
  payloads: { response: { schema: chatPayload, described: 'an Ollama /api/chat response' } },
  answerSchema: z.object({ role: z.literal('tool'), content: z.string(), tool_name: z.string() }).describe('Ollama: one per call'),
  answers: (calls) => calls.map(({ result, content }) => ({ role: 'tool' as const, content, tool_name: result.name })),
  // Ollama's `tools` parameter takes Chat Completions function tools.
  declarationsSchema: openaiChat.declarationsSchema.describe('format=ollama: function tools, as Chat Completions declares them'),
  declare: openaiChat.declare,
})
