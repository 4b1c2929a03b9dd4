import type { z } from 'zod'
import type { ApprovalHold } from './call-result.ts'
import { CallError, clipped, describeThrown, formatPath } from '../errors.ts'
import type { RawToolCall } from '../providers/provider.ts'
import { parseArguments, type ArgumentLimits } from './parse-arguments.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import type { Tool } from '../tools/tool.ts'
import { maxListedTools, maxQuotedToolNameChars } from '../limits.ts'

/** A call that may run (its tool exists, its arguments passed the schema), or the reason it may not. */
export type PreparedCall =
  | { call: RawToolCall; tool: Tool; args: unknown; error?: undefined }
  | { call: RawToolCall; tool?: Tool; error: CallError; approval?: ApprovalHold | undefined }

/**
 * What decides, once the calls are prepared and before any runs, whether each may run: the
 * approvals of a request. It may hold a call (an error with its `approval`), refuse one, or replace
 * its arguments; it throws a RequestError to refuse the batch whole. `undo` reverts what it
 * recorded, for a batch refused afterwards (queue full) with nothing run.
 */
export interface CallGate {
  /** Answers at once when it records nothing (no decision), so that a batch of calls answered at once stays synchronous. */
  review(prepared: readonly PreparedCall[], limits: ArgumentLimits): Reviewed | Promise<Reviewed>
}

export interface Reviewed {
  prepared: PreparedCall[]
  undo: () => Promise<void>
}

/** Looks the tool up, parses the arguments safely and validates them. A bad call is a value, never a throw. */
export function prepareCall(
  call: RawToolCall,
  registry: ToolRegistry,
  limits: ArgumentLimits,
  allowed?: ReadonlySet<string>,
): PreparedCall {
  const tool = registry.get(call.name)
  if (tool === undefined || (allowed !== undefined && !allowed.has(tool.name))) {
    // The tools the caller may see: a tool its key may not call is not offered as a suggestion.
    const names = allowed === undefined ? registry.names : registry.names.filter((name) => allowed.has(name))
    if (tool === undefined) return { call, error: unknownTool(call.name, names) }
    const listed = names.length === 0 ? 'none' : names.join(', ')
    return { call, error: new CallError('forbidden_tool', `this API key may not call ${tool.name}. Tools it may call: ${listed}.`) }
  }
  return checkArguments(call, tool, limits)
}

/** Parses `call`'s arguments safely and validates them against `tool`'s schema. */
export function checkArguments(call: RawToolCall, tool: Tool, limits: ArgumentLimits): PreparedCall {
  try {
    const parsed = tool.inputSchema.safeParse(parseArguments(call.arguments, limits))
    if (parsed.success) return { call, tool, args: parsed.data }
    const problems = parsed.error.issues.map(describeIssue).join('; ')
    return { call, tool, error: new CallError('invalid_arguments', `arguments do not match the schema of ${tool.name}: ${problems}`) }
  } catch (thrown) {
    // parseArguments throws CallErrors; anything else was thrown while the schema checked the
    // arguments (zod's length checks throw on a hostile `length`, a refine may throw): the
    // arguments are what the model can change.
    const error =
      thrown instanceof CallError
        ? thrown
        : new CallError(
            'invalid_arguments',
            `the arguments could not be checked against the schema of ${tool.name} (${describeThrown(thrown)}); send values of the types the schema names`,
            { cause: thrown },
          )
    return { call, tool, error }
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  return `${formatPath(issue.path, 'arguments')}: ${issue.message}`
}

function unknownTool(name: string, names: readonly string[]): CallError {
  const shown = clipped(name, maxQuotedToolNameChars)
  const suggestion = closestName(name, names)
  const hint = suggestion === undefined ? '' : ` Did you mean "${suggestion}"?`
  const listed =
    names.slice(0, maxListedTools).join(', ') + (names.length > maxListedTools ? `, and ${String(names.length - maxListedTools)} more` : '')
  return new CallError('unknown_tool', `there is no tool named ${JSON.stringify(shown)}.${hint} Tools: ${listed}.`)
}

/** The registered name within a small edit distance of the one the model wrote, if there is one. */
function closestName(name: string, names: readonly string[]): string | undefined {
  // No registered name is longer than 64 characters, so a longer one is not near any.
  if (name.length > 64) return undefined
  let best: { name: string; distance: number } | undefined
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance <= 3 && (best === undefined || distance < best.distance)) best = { name: candidate, distance }
  }
  return best?.name
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
