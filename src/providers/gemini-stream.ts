import { z } from 'zod'
import { formatPath } from '../errors.ts'
import type { RawToolCall } from './provider.ts'

/**
 * The fields of a functionCall that google-genai's Python dumps (`model_dump()`, `to_json_dict()`)
 * write in snake_case; `name`, `id` and `args` are spelt alike, and the model's own keys inside
 * `args` are never renamed.
 */
const camelCaseOf = new Map([
  ['partial_args', 'partialArgs'],
  ['will_continue', 'willContinue'],
  ['json_path', 'jsonPath'],
  ['string_value', 'stringValue'],
  ['number_value', 'numberValue'],
  ['bool_value', 'boolValue'],
  ['null_value', 'nullValue'],
])
const snakeCaseOf = new Map([...camelCaseOf].map(([snake, camel]) => [camel, snake]))

const partialArgSchema = z.object({
  jsonPath: z.string().describe('An RFC 9535 path to the argument this piece is of, e.g. "$.timezone".'),
  stringValue: z.string().nullish(),
  numberValue: z.number().nullish(),
  boolValue: z.boolean().nullish(),
  nullValue: z.literal('NULL_VALUE').nullish(),
  willContinue: z.boolean().nullish(),
})

/** A functionCall, whole or one piece of a call whose arguments stream (`partialArgs`, `willContinue`). */
const functionCallSchema = z.object({
  name: z.string().nullish(),
  id: z.string().min(1).nullish().describe('Only newer models send one.'),
  args: z.unknown().optional().meta({ type: 'object' }),
  partialArgs: z.array(partialArgSchema).nullish(),
  willContinue: z.boolean().nullish(),
})

type FunctionCallPiece = z.output<typeof functionCallSchema>
type PartialArg = z.output<typeof partialArgSchema>
type Path = PropertyKey[]

/** One chunk's candidate-0 parts (a response is a stream of one chunk), and where they are in the body. */
export interface PartsOfChunk {
  parts: ReadonlyArray<Record<string, unknown>>
  path: Path
}

/** A call begun whose later pieces may still come. */
interface OpenCall {
  name: string
  id: string | undefined
  assignedId: string
  path: string
  args: unknown
  /** The arguments as the pieces build them, once a piece brings partialArgs. */
  built: Record<string, unknown> | undefined
  /** The jsonPaths whose last piece said more of the same string follows. */
  continuing: Set<string>
  /** The `willContinue` field of its latest piece, for an error about a stream cut short. */
  lastPiece: Path
}

/**
 * The function calls of candidate 0 over the chunks, in order: a call whole in one part as the API
 * usually sends it, or (Gemini 3 with streamFunctionCallArguments) begun by a part with its name and
 * `willContinue: true`, its arguments in `partialArgs` pieces, each a value at a jsonPath (strings
 * continued piece after piece), and ended by a piece without `willContinue` (often an empty
 * `functionCall: {}`). Parts are read as the API writes them (`functionCall`) or as the Python SDK
 * dumps them (`function_call`, fields in snake_case, `null` for what is unset); a call that cannot
 * be read is reported at its field. Undefined when one could not be (its issues are in `context`).
 */
export function functionCallsAmong(
  chunks: readonly PartsOfChunk[],
  assignId: (chunk: number, part: number) => string,
  context: z.core.$RefinementCtx,
): RawToolCall[] | undefined {
  const calls: RawToolCall[] = []
  let open: OpenCall | undefined
  const issuesBefore = context.issues.length
  const report = (message: string, path: Path) => {
    context.issues.push({ code: 'custom', message, input: undefined, path })
  }
  for (const [chunkAt, chunk] of chunks.entries()) {
    for (const [partAt, part] of chunk.parts.entries()) {
      const found = functionCallOf(part)
      if (found === undefined) continue
      const at = (field: Path): Path => [...chunk.path, partAt, found.key, ...(found.key === 'function_call' ? snakeCased(field) : field)]
      const parsed = functionCallSchema.safeParse(found.body)
      if (!parsed.success) {
        for (const issue of parsed.error.issues) report(issue.message, at(issue.path))
        continue
      }
      const piece = parsed.data
      if (typeof piece.name === 'string') {
        if (open !== undefined) {
          report(
            `a function call begins while the one at ${open.path} still continues (its last piece says willContinue: true)`,
            at(['name']),
          )
          open = undefined
          continue
        }
        open = beginCall(piece, piece.name, formatPath([...chunk.path, partAt]), assignId(chunkAt, partAt))
      } else if (open === undefined) {
        // Vertex ends a streamed call with an empty functionCall; one after the calls is that, not a call.
        if (isMarker(piece) && calls.length > 0) continue
        report('a function call needs its name: none is given, and no call before it continues (willContinue)', at(['name']))
        continue
      } else if ((piece.args ?? undefined) !== undefined) {
        report('a piece that continues a function call brings its arguments in partialArgs, not args', at(['args']))
        open = undefined
        continue
      } else {
        open.id ??= piece.id ?? undefined
      }
      if (!addPieces(open, piece, at, report)) {
        open = undefined
        continue
      }
      open.lastPiece = at(['willContinue'])
      if (piece.willContinue !== true) {
        calls.push(finished(open))
        open = undefined
      }
    }
  }
  if (open !== undefined)
    report('the payload ends while this function call still continues (willContinue: true): its last pieces are missing', open.lastPiece)
  return context.issues.length === issuesBefore ? calls : undefined
}

/** A part's functionCall as the API or the Python SDK writes it; a dump's `"function_call": null` is no call. */
function functionCallOf(part: Record<string, unknown>): { key: 'functionCall' | 'function_call'; body: unknown } | undefined {
  const { functionCall, function_call: snakeCall } = part
  if (functionCall !== undefined && functionCall !== null) return { key: 'functionCall', body: functionCall }
  if (snakeCall !== undefined && snakeCall !== null) return { key: 'function_call', body: camelCased(snakeCall) }
  return undefined
}

/** A snake_case functionCall with the SDK's field names (not the model's keys in `args`) in camelCase. */
function camelCased(body: unknown): unknown {
  if (!isPlainObject(body)) return body
  const renamed = renameKeys(body)
  const pieces = renamed.partialArgs
  if (Array.isArray(pieces)) renamed.partialArgs = pieces.map((piece: unknown) => (isPlainObject(piece) ? renameKeys(piece) : piece))
  return renamed
}

function renameKeys(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [camelCaseOf.get(key) ?? key, value]))
}

/** A path inside a camelCased functionCall, as the snake_case body spells it. */
function snakeCased(path: Path): Path {
  return path.map((key) => (typeof key === 'string' ? (snakeCaseOf.get(key) ?? key) : key))
}

function beginCall(piece: FunctionCallPiece, name: string, path: string, assignedId: string): OpenCall {
  return {
    name,
    id: piece.id ?? undefined,
    assignedId,
    path,
    // A dump writes "args": null for a call without arguments.
    args: piece.args ?? undefined,
    built: undefined,
    continuing: new Set(),
    lastPiece: [],
  }
}

/** A piece that carries nothing but, at most, willContinue. */
function isMarker(piece: FunctionCallPiece): boolean {
  return (piece.args ?? undefined) === undefined && (piece.partialArgs ?? []).length === 0 && (piece.id ?? undefined) === undefined
}

/** Writes a piece's partialArgs into the call's arguments; false when one could not be (reported). */
function addPieces(
  call: OpenCall,
  piece: FunctionCallPiece,
  at: (field: Path) => Path,
  report: (message: string, path: Path) => void,
): boolean {
  const pieces = piece.partialArgs ?? []
  if (pieces.length === 0) return true
  if (call.built === undefined) {
    if (call.args !== undefined && !isPlainObject(call.args)) {
      report('partialArgs add to args, which must then be an object', at(['args']))
      return false
    }
    call.built = call.args === undefined ? {} : structuredClone<Record<string, unknown>>(call.args)
  }
  for (const [pieceAt, partial] of pieces.entries()) {
    const problem = addPiece(call, call.built, partial)
    if (problem !== undefined) {
      report(`the jsonPath ${problem}`, at(['partialArgs', pieceAt, 'jsonPath']))
      return false
    }
  }
  return true
}

function addPiece(call: OpenCall, args: Record<string, unknown>, partial: PartialArg): string | undefined {
  const segments = jsonPathSegments(partial.jsonPath)
  if (segments === undefined) return 'is not a path of names and indexes such as $.a.b[0] or $["a"]'
  const value = valueOf(partial)
  const continues = call.continuing.has(partial.jsonPath)
  if (partial.willContinue === true) call.continuing.add(partial.jsonPath)
  else call.continuing.delete(partial.jsonPath)
  // A piece with no value only moves willContinue along.
  if (value === undefined) return undefined
  return writeAt(args, segments, value.is, continues)
}

/**
 * The piece's value. PartialArg is a oneof: `nullValue` is "NULL_VALUE" (the SDKs), or null when
 * the piece names no other value (protobuf's JSON); a dump's all-null fields are no value at all.
 */
function valueOf(partial: PartialArg): { is: unknown } | undefined {
  const { stringValue, numberValue, boolValue, nullValue } = partial
  if (typeof stringValue === 'string') return { is: stringValue }
  if (typeof numberValue === 'number') return { is: numberValue }
  if (typeof boolValue === 'boolean') return { is: boolValue }
  const namesNoOther = stringValue === undefined && numberValue === undefined && boolValue === undefined
  if (nullValue === 'NULL_VALUE' || (nullValue === null && namesNoOther)) return { is: null }
  return undefined
}

const escapes = new Map([
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
])

/** The steps of a singular RFC 9535 path after its `$`: `.name`, `['name']` or `["name"]`, `[index]`. */
const steps: ReadonlyArray<{ pattern: RegExp; segment: (match: RegExpExecArray) => string | number }> = [
  { pattern: /\.([A-Za-z_\u0080-\u{10FFFF}][\w\u0080-\u{10FFFF}]*)/uy, segment: (match) => match[1] ?? '' },
  { pattern: /\[(['"])((?:(?!\1)[^\\]|\\.)*)\1\]/uy, segment: (match) => unescaped(match[2] ?? '') },
  { pattern: /\[(0|[1-9]\d*)\]/y, segment: (match) => Number(match[1]) },
]

/** The names and indexes of the argument a piece is of, e.g. `$.a["b c"][0]`; undefined for a path of any other form. */
export function jsonPathSegments(path: string): Array<string | number> | undefined {
  if (!path.startsWith('$')) return undefined
  const segments: Array<string | number> = []
  let at = 1
  while (at < path.length) {
    const step = nextStep(path, at)
    if (step === undefined) return undefined
    segments.push(step.segment)
    at += step.length
  }
  return segments
}

function nextStep(path: string, at: number): { segment: string | number; length: number } | undefined {
  for (const { pattern, segment } of steps) {
    pattern.lastIndex = at
    const match = pattern.exec(path)
    if (match !== null) return { segment: segment(match), length: match[0].length }
  }
  return undefined
}

function unescaped(quoted: string): string {
  return quoted.replace(/\\(u[0-9a-fA-F]{4}|.)/gu, (_, escape: string) =>
    escape.length === 5 ? String.fromCharCode(Number.parseInt(escape.slice(1), 16)) : (escapes.get(escape) ?? escape),
  )
}

const forbiddenKeys = new Set(['__proto__', 'constructor'])

/**
 * Sets `value` at `segments` under `args`, making the objects and arrays on the way (an index
 * makes an array); a string continued from the same path's last piece is appended to. Arrays
 * grow one element at a time, as the model writes them: every write is bounded by the body.
 */
function writeAt(
  args: Record<string, unknown>,
  segments: ReadonlyArray<string | number>,
  value: unknown,
  continues: boolean,
): string | undefined {
  if (segments.length === 0) return 'names the whole arguments, which must be an object, not a value'
  let container: unknown = args
  for (const [at, segment] of segments.entries()) {
    const problem = stepProblem(container, segment)
    if (problem !== undefined) return problem
    const holder = container as Record<string | number, unknown>
    const existing = Object.hasOwn(holder, segment) ? holder[segment] : undefined
    if (at === segments.length - 1) {
      holder[segment] = continues && typeof existing === 'string' && typeof value === 'string' ? existing + value : value
      return undefined
    }
    if (existing === undefined) holder[segment] = typeof segments[at + 1] === 'number' ? [] : {}
    container = holder[segment]
  }
  return undefined
}

function stepProblem(container: unknown, segment: string | number): string | undefined {
  if (typeof segment === 'number') {
    if (!Array.isArray(container)) return `indexes [${String(segment)}] into a value that is not an array`
    if (segment > container.length)
      return `skips array elements: the array holds ${String(container.length)}, so the next is [${String(container.length)}]`
    return undefined
  }
  if (!isPlainObject(container)) return 'names a key in a value that is not an object'
  if (forbiddenKeys.has(segment)) return 'names "__proto__" or "constructor", which arguments must not hold'
  return undefined
}

function finished(call: OpenCall): RawToolCall {
  return {
    // Gemini calls may carry no id: the part's position names the call, so two calls of one tool stay apart.
    id: call.id ?? call.assignedId,
    name: call.name,
    arguments: call.built ?? call.args,
    path: call.path,
    ...(call.id === undefined ? { assignedId: true as const } : {}),
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
