import type { FastifySchemaCompiler } from 'fastify'
import type { z } from 'zod'
import { formatPath, RequestError } from '../errors.ts'
import { decodePayload, payloadSchema } from '../providers/index.ts'
import { pickIssue } from '../zod-issues.ts'

type Issue = z.core.$ZodIssue

/** Schemas parsed by a faster function that gives the same answer as their `safeParse`. */
const fastParsers = new Map<z.ZodType, (data: unknown) => z.ZodSafeParseResult<unknown>>([[payloadSchema, decodePayload]])

const partNames = { body: 'body', querystring: 'query' } as const

/**
 * A valid part left as it came. Headers schemas only check (optional strings, extra headers kept):
 * given a value, Fastify would keep it beside Node's headers and merge the two into a new object
 * on every read of request.headers.
 */
const checked = {}

/**
 * Validates a request part with its zod schema; a failure becomes a RequestError naming the one
 * field most worth fixing (see `pickIssue`), without echoing the input.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const safeParse = fastParsers.get(schema) ?? ((data: unknown) => schema.safeParse(data))
  return (data) => {
    let result: ReturnType<typeof safeParse>
    try {
      result = safeParse(data)
    } catch {
      // zod's length checks also run on a value that failed its type check, and throw on a
      // hostile `length` (an object whose toString is not a function): still the client's input.
      const code = httpPart === 'querystring' ? 'invalid_query' : 'invalid_payload'
      return {
        error: new RequestError(
          code,
          `The ${httpPart === 'querystring' ? 'query' : 'body'} holds a value of the wrong type (an object where a string or array belongs).`,
        ),
      }
    }
    if (result.success) return httpPart === 'headers' ? checked : { value: result.data }
    return { error: toRequestError(result.error.issues, data, httpPart, schema.description) }
  }
}

function toRequestError(issues: readonly Issue[], data: unknown, httpPart = 'body', description?: string): RequestError {
  const part = httpPart === 'body' || httpPart === 'querystring' ? partNames[httpPart] : httpPart
  const { issue, path } = pickIssue(issues, data, [])
  const where = formatPath(path, part)
  const message =
    path.length === 0 && description !== undefined ? `The ${part} is not ${description}` : `Invalid value at ${where}: ${issue.message}`
  const code = part === 'body' ? 'invalid_payload' : part === 'query' ? 'invalid_query' : 'bad_request'
  return new RequestError(code, message, { path: where })
}
