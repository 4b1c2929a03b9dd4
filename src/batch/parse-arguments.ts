import secureJson from 'secure-json-parse'
import { CallError } from '../errors.ts'

export interface ArgumentLimits {
  maxArgumentBytes: number
  maxArgumentDepth: number
}

const forbiddenKeys = new Set(['__proto__', 'constructor'])

/**
 * Turns a call's `arguments` (the model's JSON string, or an object a client already parsed) into
 * a plain object, refusing anything a tool should never see. Model output is untrusted: the size
 * is checked before parsing, keys that could reach a prototype are refused, nesting is bounded.
 */
export function parseArguments(raw: unknown, limits: ArgumentLimits): Record<string, unknown> {
  if (raw === undefined) return {}
  let value: unknown
  if (typeof raw === 'string') {
    if (raw.trim() === '') return {}
    checkSize(Buffer.byteLength(raw), limits)
    try {
      value = secureJson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'error' })
    } catch (error) {
      if (error instanceof SyntaxError && /prototype/.test(error.message)) throw forbiddenKey()
      throw new CallError('invalid_arguments', 'arguments are not valid JSON: send one JSON object, e.g. {"timezone":"UTC"}')
    }
  } else {
    value = raw
  }
  if (!isPlainObject(value)) {
    throw new CallError('invalid_arguments', `arguments must be a JSON object, got ${kindOf(value)}`)
  }
  checkShape(value, limits.maxArgumentDepth)
  // An object the client parsed for us is measured only once its depth is known to be bounded.
  if (typeof raw !== 'string') checkSize(Buffer.byteLength(JSON.stringify(value)), limits)
  return value
}

function checkSize(bytes: number, limits: ArgumentLimits): void {
  if (bytes > limits.maxArgumentBytes) {
    throw new CallError('invalid_arguments', `arguments are ${bytes} bytes, more than the limit of ${limits.maxArgumentBytes}`)
  }
}

/** Walks the value without recursion, so a hostile nesting cannot overflow the stack. */
function checkShape(root: Record<string, unknown>, maxDepth: number): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 1 }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, depth } = item
    if (typeof value !== 'object' || value === null) continue
    if (depth > maxDepth) {
      throw new CallError('invalid_arguments', `arguments are nested deeper than the limit of ${maxDepth} levels`)
    }
    if (Array.isArray(value)) {
      for (const element of value) stack.push({ value: element, depth: depth + 1 })
      continue
    }
    for (const key of Object.keys(value)) {
      if (forbiddenKeys.has(key)) throw forbiddenKey()
      stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1 })
    }
  }
}

function forbiddenKey(): CallError {
  return new CallError('invalid_arguments', 'arguments must not contain "__proto__" or "constructor" keys')
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}
