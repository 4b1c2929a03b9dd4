import { z } from 'zod'
import { callErrorCodes } from '../errors.ts'
import type { ContentBlock } from '../tools/content.ts'

export const callErrorSchema = z.object({
  code: z.enum(Object.keys(callErrorCodes) as [keyof typeof callErrorCodes]),
  message: z.string(),
})

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
  queuedMs: z.number().describe('Time the call waited for a slot.'),
  truncatedFromBytes: z
    .int()
    .optional()
    .describe(
      'Set when the result was longer than TOOLGATE_MAX_RESULT_BYTES: its size before it was cut (for content blocks: their text and base64 bytes); output and content hold the cut text, an image or file left out being named there.',
    ),
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
