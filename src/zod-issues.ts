import type { z } from 'zod'

type Issue = z.core.$ZodIssue
type Path = readonly PropertyKey[]

/**
 * Picks the issue that reaches deepest into the data. Across the branches of a union, that is the
 * branch the client most likely meant: a chat completion with a bad tool call is reported at the
 * tool call, not as "expected an array" from the conversation branch. An issue about data that is
 * not in the body as sent (the events parsed out of a raw stream) says how deep it reached in
 * `params.reached`.
 */
export function pickIssue(issues: readonly Issue[], data: unknown, prefix: Path): { issue: Issue; path: Path } {
  let best: { issue: Issue; path: Path; reach: number } | undefined
  for (const issue of issues) {
    const path = [...prefix, ...issue.path]
    let candidate: { issue: Issue; path: Path } = { issue, path }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => pickIssue(branch, data, path))
      const deepest = branches.reduce((a, b) => (reachOf(data, b) > reachOf(data, a) ? b : a))
      // A union none of whose branches got past its own position is reported as itself.
      if (reachOf(data, deepest) > path.length) candidate = deepest
    }
    const candidateReach = reachOf(data, candidate)
    if (best === undefined || candidateReach > best.reach) best = { ...candidate, reach: candidateReach }
  }
  if (best === undefined) throw new TypeError('a zod error without issues')
  return best
}

function reachOf(data: unknown, { issue, path }: { issue: Issue; path: Path }): number {
  const reported = issue.code === 'custom' ? (issue.params as { reached?: unknown } | undefined)?.reached : undefined
  return Math.max(reach(data, path), typeof reported === 'number' ? reported : 0)
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

/** How far `path` reaches into `data`, for an issue to report in `params.reached` (see pickIssue). */
export function reachInto(data: unknown, path: Path): number {
  return reach(data, path)
}
