import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages'
import type { ChatCompletionToolMessageParam } from 'openai/resources/chat/completions'
import type { ResponseInputItem } from 'openai/resources/responses/responses'
import { z } from 'zod'
import type { PayloadFormat } from '../providers/payload.ts'
import { callErrorCodes } from '../errors.ts'
import type { BatchResult, CallResult, CallVerdict, ExecutedCall } from './executor.ts'

const callErrorSchema = z.object({
  code: z.enum(Object.keys(callErrorCodes) as [keyof typeof callErrorCodes]),
  message: z.string(),
})

export const executeReplySchema = z.object({
  status: z
    .enum(['complete', 'partial', 'failed', 'empty'])
    .describe('complete: every call succeeded; partial: some did; failed: none did; empty: the payload held no calls.'),
  messages: z
    .array(
      z.union([
        z.object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.string() }).describe('Chat Completions: one per call'),
        z
          .object({ type: z.literal('function_call_output'), call_id: z.string(), output: z.string() })
          .describe('Responses API: one per call, keyed by call_id'),
        z
          .object({
            role: z.literal('user'),
            content: z.array(
              z.object({ type: z.literal('tool_result'), tool_use_id: z.string(), content: z.string(), is_error: z.boolean().optional() }),
            ),
          })
          .describe('Anthropic: one user message holding every tool_result'),
        z
          .object({
            role: z.literal('user'),
            parts: z.array(
              z.object({
                functionResponse: z.object({ name: z.string(), id: z.string().optional(), response: z.record(z.string(), z.unknown()) }),
              }),
            ),
          })
          .describe('Gemini: one user content holding every functionResponse part'),
        z.object({ role: z.literal('tool'), content: z.string(), tool_name: z.string() }).describe('Ollama: one per call'),
      ]),
    )
    .describe("The answers in the payload's own provider format, in the calls' order, ready to append to the conversation."),
  results: z
    .array(
      z.object({
        id: z.string(),
        name: z.string(),
        ok: z.boolean(),
        output: z.unknown().optional(),
        error: callErrorSchema.optional(),
        attempts: z.int().describe('0 when the call was refused before it ran.'),
        durationMs: z.number(),
        queuedMs: z.number().describe('Time the call waited for a slot.'),
        truncatedFromBytes: z
          .int()
          .optional()
          .describe('Set when the result was longer than TOOLGATE_MAX_RESULT_BYTES: its size before it was cut; output and content hold the cut text.'),
      }),
    )
    .describe("One result per call, in the calls' order."),
  errors: z
    .string()
    .nullable()
    .describe('null when every call succeeded, else "Multiple errors occurred:" and one "<name>: <message>" line per failed call.'),
  timing: z.object({
    wallMs: z.number().describe('Wall time of the batch.'),
    sumMs: z.number().describe("Sum of the calls' durations: what running them one after another would take."),
  }),
})

type ReplyShape = z.output<typeof executeReplySchema>
/** One answer in any provider's format. */
export type ToolMessage = ReplyShape['messages'][number]
/** A Chat Completions tool message: what every OpenAI-shaped payload gets. */
export type ChatToolMessage = Extract<ToolMessage, { tool_call_id: string }>
/** The reply; its messages are Chat Completions tool messages unless the payload came from another provider. */
export type ExecuteReply<Message extends ToolMessage = ChatToolMessage> = Omit<ReplyShape, 'messages'> & { messages: Message[] }

export const validateReplySchema = z.object({
  status: executeReplySchema.shape.status.describe(
    'complete: every call would run; partial: some would; failed: none would; empty: the payload held no calls.',
  ),
  results: z
    .array(z.object({ id: z.string(), name: z.string(), ok: z.boolean(), error: callErrorSchema.optional() }))
    .describe("One verdict per call, in the calls' order; nothing ran."),
  errors: executeReplySchema.shape.errors,
})

export type ValidateReply = z.output<typeof validateReplySchema>

/** The reply to POST /execute?mode=validate: one verdict per call, with the same codes as execution. */
export function formatVerdicts(results: CallVerdict[]): ValidateReply {
  return { status: completenessStatus(results), results, errors: aggregateErrors(results) }
}
export type BatchStatus = ReplyShape['status']

/** The reply to POST /execute: tool messages, per-call results, completeness and aggregated errors. */
export function formatReply(batch: BatchResult): ExecuteReply
export function formatReply(batch: BatchResult, format: PayloadFormat): ExecuteReply<ToolMessage>
export function formatReply(batch: BatchResult, format: PayloadFormat = 'chat.completion'): ExecuteReply<ToolMessage> {
  const { calls } = batch
  const results = calls.map((call) => call.result)
  return {
    status: completenessStatus(results),
    messages: toolMessages(calls, format),
    results,
    errors: aggregateErrors(results),
    timing: { wallMs: batch.wallMs, sumMs: Math.round(results.reduce((sum, result) => sum + result.durationMs, 0) * 100) / 100 },
  }
}

/** The answers as the payload's provider expects them next, linked to the calls by its own ids. */
export function toolMessages(calls: readonly ExecutedCall[], format: PayloadFormat): ToolMessage[] {
  switch (format) {
    case 'responses':
      return calls.map(
        ({ result, content }) =>
          ({ type: 'function_call_output', call_id: result.id, output: content }) satisfies ResponseInputItem.FunctionCallOutput,
      )
    case 'anthropic': {
      if (calls.length === 0) return []
      // One user message for the whole batch: Anthropic wants every tool_result of a turn together.
      const blocks = calls.map(({ result, content }) => ({
        type: 'tool_result' as const,
        tool_use_id: result.id,
        content,
        ...(result.ok ? {} : { is_error: true }),
      }) satisfies ToolResultBlockParam)
      return [{ role: 'user', content: blocks }]
    }
    case 'gemini': {
      if (calls.length === 0) return []
      // One user content after the calls; an id goes back only when the model sent one.
      const parts = calls.map(({ result, assignedId }) => ({
        functionResponse: {
          name: result.name,
          ...(assignedId ? {} : { id: result.id }),
          response: result.ok ? asObject(result.output) : { error: result.error },
        },
      }))
      return [{ role: 'user', parts }]
    }
    case 'ollama':
      return calls.map(({ result, content }) => ({ role: 'tool', content, tool_name: result.name }))
    default:
      return calls.map(
        ({ result, content }) => ({ role: 'tool', tool_call_id: result.id, content }) satisfies ChatCompletionToolMessageParam,
      )
  }
}

/** Gemini wants an object as a function's response: objects go as they are, anything else under `result`. */
function asObject(output: unknown): Record<string, unknown> {
  return typeof output === 'object' && output !== null && !Array.isArray(output) ? (output as Record<string, unknown>) : { result: output }
}

/** The sketch's completeness check: all succeeded, some, none, or there was nothing to run. */
export function completenessStatus(calls: readonly Pick<CallResult, 'ok'>[]): BatchStatus {
  if (calls.length === 0) return 'empty'
  const succeeded = calls.filter((call) => call.ok).length
  if (succeeded === calls.length) return 'complete'
  return succeeded === 0 ? 'failed' : 'partial'
}

/** The sketch's error aggregation, for a model or a log: one line per failed call. */
export function aggregateErrors(calls: readonly Pick<CallResult, 'name' | 'error'>[]): string | null {
  const lines = calls.flatMap((call) => (call.error ? [`${call.name}: ${call.error.message}`] : []))
  return lines.length === 0 ? null : `Multiple errors occurred:\n${lines.join('\n')}`
}
