import type { z } from 'zod'

type Issue = z.core.$ZodIssue
type Path = readonly PropertyKey[]

/**
 * Picks the issue that reaches deepest into the data. Across the branches of a union, that is the
 * branch the client most likely meant: a chat completion with a bad tool call is reported at the
 * tool call, not as "expected an array" from the conversation branch.
 */
export function pickIssue(issues: readonly Issue[], data: unknown, prefix: Path): { issue: Issue; path: Path } {
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
