import { z } from 'zod'
import { requestErrorCodes } from '../errors.ts'

/** The body of every refused request. */
export const errorReplySchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(requestErrorCodes) as [keyof typeof requestErrorCodes]),
    message: z.string(),
    path: z.string().optional().describe('The offending field, e.g. body.choices[0].message.tool_calls[1].id'),
  }),
})
