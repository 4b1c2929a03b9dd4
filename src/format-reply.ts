import type { ChatCompletionToolMessageParam } from 'openai/resources/chat/completions'
import { z } from 'zod'
import { callErrorCodes } from './errors.ts'
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
    .array(z.object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.string() }))
    .describe("One tool message per call, in the calls' order, ready to append to the conversation."),
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

export type ExecuteReply = z.output<typeof executeReplySchema>

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
export type BatchStatus = ExecuteReply['status']

/** The reply to POST /execute: tool messages, per-call results, completeness and aggregated errors. */
export function formatReply(batch: BatchResult): ExecuteReply {
  const { calls } = batch
  const results = calls.map((call) => call.result)
  return {
    status: completenessStatus(results),
    messages: calls.map(toToolMessage),
    results,
    errors: aggregateErrors(results),
    timing: { wallMs: batch.wallMs, sumMs: Math.round(results.reduce((sum, result) => sum + result.durationMs, 0) * 100) / 100 },
  }
}

function toToolMessage(call: ExecutedCall): ChatCompletionToolMessageParam & { content: string } {
  return { role: 'tool', tool_call_id: call.result.id, content: call.content }
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
