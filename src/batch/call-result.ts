import { z } from 'zod'
import { callErrorCodes } from '../errors.ts'
import type { ContentBlock } from '../tools/content.ts'

export const callErrorSchema = z.object({
  code: z.enum(Object.keys(callErrorCodes) as [keyof typeof callErrorCodes]),
  message: z.string(),
})

/** A call held for a human's approval (error awaiting_approval): what the caller re-posts it with; the model never sees it. */
export const approvalHoldSchema = z
  .object({
    token: z.string().describe('Signed by toolgate, bound to the caller, tool, call id, arguments and approval policy; used once.'),
    expiresAt: z.string().describe('ISO 8601: after this the token is refused (approval_expired).'),
  })
  .describe("Set when the call awaits approval: re-post the call with { token, decision } in the body's approvals.")

export type ApprovalHold = z.output<typeof approvalHoldSchema>

/** One call's result as the reply's `results` shows it. */
export const callResultSchema = z.object({
  id: z.string(),
  name: z.string(),
  ok: z.boolean(),
  output: z.unknown().optional(),
  error: callErrorSchema.optional(),
  attempts: z.int().describe('0 when the call was refused before it ran.'),
  /** From the first attempt's start to the answer; 0 for a call refused before running. */
  durationMs: z.number(),
  queuedMs: z.number().describe('Time the call waited for a slot, and for the calls before it in its ordering lane.'),
  truncatedFromBytes: z
    .int()
    .optional()
    .describe(
      'Set when the result was longer than TOOLGATE_MAX_RESULT_BYTES: its size before it was cut (for content blocks: their text and base64 bytes); output and content hold the cut text, an image or file left out being named there.',
    ),
  approval: approvalHoldSchema.optional(),
})

export type CallResult = z.output<typeof callResultSchema>

/** Whether a call would run, and if not why: what `?mode=validate` answers. */
export const callVerdictSchema = callResultSchema.pick({ id: true, name: true, ok: true, error: true })

export type CallVerdict = z.output<typeof callVerdictSchema>

/** One call's answer, in the order of the calls. */
export interface AnsweredCall {
  result: CallResult
  /** What the model reads in its tool message; for a result in content blocks, their text rendering. */
  content: string
  /**
   * The result's content blocks (an MCP tool's text, images, audio, resources), fitted to the
   * result limit: providers whose tool results take images and files send these, the others `content`.
   */
  blocks?: readonly ContentBlock[]
  /** The payload had no id for this call; `result.id` was made up by toolgate. */
  assignedId?: true
}
