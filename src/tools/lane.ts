import { createHash } from 'node:crypto'
import { maxLaneKeyChars } from '../limits.ts'
import { ToolDefinitionError, type LaneDeclaration, type Tool } from './tool.ts'

/** A tool's lane, checked: the key of each of its calls, and whether a failed call stops the lane. */
export interface Lane {
  /** The call's lane key from its validated arguments; undefined: the call runs in no lane. */
  keyOf(args: unknown): string | undefined
  stopOnFailure: boolean
  /** The template, when the key is one (GET /tools shows it); null when the tool's code computes it. */
  template: string | null
}

type Part = string | { placeholder: string; path: string[] }

const placeholderPattern = /^[\w-]+(\.[\w-]+)*$/

/**
 * The lane `tool` declares, if any, checked; throws a ToolDefinitionError for a bad template. A
 * template is literal text with `{name}` placeholders (dotted paths, `{a.b}`, reach into nested
 * objects), each replaced by that argument when it is a string or a finite number. Any other value,
 * or none, leaves the placeholder as written (`file:{path}`): such calls share that one lane, so
 * that what cannot be told apart is ordered rather than run side by side.
 */
export function laneOf(tool: Tool): Lane | undefined {
  if (tool.lane === undefined) return undefined
  const declaration: LaneDeclaration = typeof tool.lane === 'string' ? { key: tool.lane } : tool.lane
  const stopOnFailure = declaration.stopOnFailure === true
  const { key } = declaration
  if (typeof key === 'function') {
    // Code that throws or answers a non-string cannot say which calls may run side by side: the
    // tool's calls then share a lane of its own.
    const fallback = `tool:${tool.name}`
    const keyOf = (args: unknown): string | undefined => {
      try {
        const computed = key(args)
        if (computed === undefined) return undefined
        return typeof computed === 'string' ? bounded(computed) : fallback
      } catch {
        return fallback
      }
    }
    return { keyOf, stopOnFailure, template: null }
  }
  if (typeof key !== 'string') throw new ToolDefinitionError(`Tool "${tool.name}": lane.key must be a template string or a function`)
  const parts = parseTemplate(tool.name, key)
  const literal = parts.every((part) => typeof part === 'string')
  return { keyOf: literal ? () => key : (args) => bounded(fill(parts, args)), stopOnFailure, template: key }
}

function parseTemplate(toolName: string, template: string): Part[] {
  const refuse = (why: string) => new ToolDefinitionError(`Tool "${toolName}": lane template ${JSON.stringify(template)} ${why}`)
  if (template === '') throw refuse('is empty')
  if (template.length > maxLaneKeyChars) throw refuse(`is longer than ${String(maxLaneKeyChars)} characters`)
  const parts: Part[] = []
  let rest = template
  while (rest !== '') {
    const open = rest.indexOf('{')
    const close = rest.indexOf('}')
    if (close !== -1 && (open === -1 || close < open)) throw refuse('has a "}" without its "{"')
    if (open === -1) {
      parts.push(rest)
      break
    }
    if (open > 0) parts.push(rest.slice(0, open))
    if (close === -1) throw refuse('has a "{" without its "}"')
    const placeholder = rest.slice(open + 1, close)
    if (!placeholderPattern.test(placeholder)) {
      throw refuse(`has the placeholder {${placeholder}}: name an argument, in letters, digits, "_" or "-" (a.b for a nested one)`)
    }
    parts.push({ placeholder: `{${placeholder}}`, path: placeholder.split('.') })
    rest = rest.slice(close + 1)
  }
  return parts
}

function fill(parts: readonly Part[], args: unknown): string {
  let key = ''
  for (const part of parts) {
    if (typeof part === 'string') key += part
    else {
      const value = argumentAt(args, part.path)
      key += typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : part.placeholder
    }
  }
  return key
}

/** The argument at `path`, through own properties only. */
function argumentAt(args: unknown, path: readonly string[]): unknown {
  let value = args
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) return undefined
    value = (value as Record<string, unknown>)[segment]
  }
  return value
}

/** A key of at most maxLaneKeyChars: a longer one is cut and ends with a hash of the whole, so that keys equal only when they were. */
function bounded(key: string): string {
  if (key.length <= maxLaneKeyChars) return key
  const hash = createHash('sha256').update(key).digest('base64url').slice(0, 22)
  return `${key.slice(0, maxLaneKeyChars - hash.length - 2)}…#${hash}`
}
