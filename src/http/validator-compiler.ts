import type { FastifySchemaCompiler } from 'fastify'
import type { z } from 'zod'
import { formatPath, RequestError } from '../errors.ts'

type Issue = z.core.$ZodIssue
type Path = readonly PropertyKey[]

const partNames = { body: 'body', querystring: 'query' } as const

/**
 * Validates a request part with its zod schema; a failure becomes a RequestError naming the one
 * field most worth fixing (see `pickIssue`), without echoing the input.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    let result: ReturnType<typeof schema.safeParse>
    try {
      result = schema.safeParse(data)
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
    if (result.success) return { value: result.data }
    return { error: toRequestError(result.error.issues, data, httpPart, schema.description) }
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

/**
 * Picks the issue that reaches deepest into the data. Across the branches of a union, that is the
 * branch the client most likely meant: a chat completion with a bad tool call is reported at the
 * tool call, not as "expected an array" from the conversation branch.
 */
function pickIssue(issues: readonly Issue[], data: unknown, prefix: Path): { issue: Issue; path: Path } {
  let best: { issue: Issue; path: Path; reach: number } | undefined
  for (const issue of issues) {
    const path = [...prefix, ...issue.path]
    let candidate: { issue: Issue; path: Path } = { issue, path }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => pickIssue(branch, data, path))
      const deepest = branches.reduce((a, b) => (reach(data, b.path) > reach(data, a.path) ? b : a))
      // A union none of whose branches got past its own position is reported as itself.
      if (reach(data, deepest.path) > path.length) candidate = deepest
    }
    const candidateReach = reach(data, candidate.path)
    if (best === undefined || candidateReach > best.reach) best = { ...candidate, reach: candidateReach }
  }
  if (best === undefined) throw new TypeError('a zod error without issues')
  return best
}

/** How many leading segments of `path` exist in `data`. */
function reach(data: unknown, path: Path): number {
  let value = data
  let count = 0
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) break
    value = (value as Record<PropertyKey, unknown>)[key]
    count++
  }
  return count
}
