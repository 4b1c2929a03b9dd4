import { z } from 'zod'
import { toolMessageSchema, type AnyProvider, type ToolMessage } from '../providers/index.ts'
import { openaiChat } from '../providers/openai-chat.ts'
import { callResultSchema, callVerdictSchema, type CallVerdict } from './call-result.ts'
import type { BatchResult } from './executor.ts'
import { aggregateErrors, completenessStatus, errorsSchema, statusSchema, summarize, timingSchema } from './summary.ts'

export const executeReplySchema = z.object({
  status: statusSchema,
  messages: z
    .array(toolMessageSchema)
    .describe("The answers in the payload's own provider format, in the calls' order, ready to append to the conversation."),
  results: z.array(callResultSchema).describe("One result per call, in the calls' order."),
  errors: errorsSchema,
  timing: timingSchema,
})

type ReplyShape = z.output<typeof executeReplySchema>
/** A Chat Completions tool message: what every OpenAI-shaped payload gets. */
export type ChatToolMessage = Extract<ToolMessage, { tool_call_id: string }>
/** The reply; its messages are Chat Completions tool messages unless the payload came from another provider. */
export type ExecuteReply<Message extends ToolMessage = ChatToolMessage> = Omit<ReplyShape, 'messages'> & { messages: Message[] }

export const validateReplySchema = z.object({
  status: statusSchema.describe(
    'complete: every call would run; partial: some would; failed: none would; empty: the payload held no calls.',
  ),
  results: z.array(callVerdictSchema).describe("One verdict per call, in the calls' order; nothing ran."),
  errors: errorsSchema,
})

export type ValidateReply = z.output<typeof validateReplySchema>

/** The reply to POST /execute?mode=validate: one verdict per call, with the same codes as execution. */
export function formatVerdicts(results: CallVerdict[]): ValidateReply {
  return { status: completenessStatus(results), results, errors: aggregateErrors(results) }
}

/** The reply to POST /execute: tool messages, per-call results, completeness and aggregated errors. */
export function formatReply(batch: BatchResult): ExecuteReply
export function formatReply(batch: BatchResult, provider: AnyProvider): ExecuteReply<ToolMessage>
export function formatReply(batch: BatchResult, provider: AnyProvider = openaiChat): ExecuteReply<ToolMessage> {
  const results = batch.calls.map((call) => call.result)
  const { status, errors, timing } = summarize(results, batch.wallMs)
  return { status, messages: provider.answers(batch.calls), results, errors, timing }
}
