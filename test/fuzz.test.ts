import assert from 'node:assert/strict'
import { dirname } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { z } from 'zod'
import { CallError, callErrorCodes, requestErrorCodes } from '../src/errors.ts'
import type { RawToolCall } from '../src/providers/provider.ts'
import { parseArguments, type ArgumentLimits } from '../src/batch/parse-arguments.ts'
import { prepareCall } from '../src/batch/prepare-call.ts'
import { ToolRegistry } from '../src/tools/registry.ts'
import { defineTool, type Tool } from '../src/tools/tool.ts'
import { createGetDate } from '../src/tools/builtin/get-date.ts'
import { createGetTime } from '../src/tools/builtin/get-time.ts'
import { buildTestApp } from './helpers/app.ts'

/**
 * Property-based fuzzing of POST /execute and of the argument parser. FUZZ_RUNS sets the cases per
 * property (default 10 000); FUZZ_SEED replays the seed fast-check printed for a failure.
 */
const numRuns = positiveInteger('FUZZ_RUNS', 10_000)
const seed = process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === '' ? undefined : Number(process.env.FUZZ_SEED)
if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${String(process.env.FUZZ_SEED)}`)
const runOptions = { numRuns, ...(seed === undefined ? {} : { seed }) }
// A property takes 1 to 10 s at the default on two slow cores; a larger FUZZ_RUNS gets a proportional budget.
const timeout = Math.max(120_000, numRuns * 12)

function positiveInteger(variable: string, fallback: number): number {
  const value = process.env[variable]
  if (value === undefined || value === '') return fallback
  const parsed = Number(value)
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new Error(`${variable} must be a positive integer, got ${JSON.stringify(value)}`)
  return parsed
}

// ---------------------------------------------------------------------------------------------
// Tools: offline only. `echo` records any argument object that reached it with a key or a
// prototype a tool must never see.
// ---------------------------------------------------------------------------------------------

const violations: string[] = []
const forbiddenKeys = ['__proto__', 'constructor']

function inspectArguments(root: unknown): void {
  const stack: unknown[] = [root]
  for (let value = stack.pop(); stack.length > 0 || value !== undefined; value = stack.pop()) {
    if (typeof value !== 'object' || value === null) continue
    const prototype: unknown = Object.getPrototypeOf(value)
    if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null)
      violations.push('an argument object with a foreign prototype')
    for (const key of Object.keys(value)) {
      if (forbiddenKeys.includes(key)) violations.push(`an argument object with an own ${key} key`)
      stack.push((value as Record<string, unknown>)[key])
    }
  }
}

const echoTool = defineTool({
  name: 'echo',
  description: 'Answers how many keys it was given.',
  inputSchema: z.record(z.string(), z.unknown()),
  execute(args) {
    inspectArguments(args)
    return { keys: Object.keys(args).length }
  },
})

const offlineTools = (): Tool[] => [createGetTime(), createGetDate(), echoTool]
const toolNames = new Set(['get_time', 'get_date', 'echo'])

// ---------------------------------------------------------------------------------------------
// Invariants every answer keeps.
// ---------------------------------------------------------------------------------------------

const guardedPrototypes = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Boolean.prototype]
const pristine = guardedPrototypes.map((prototype) =>
  Reflect.ownKeys(prototype).map((key) => ({ key, descriptor: Object.getOwnPropertyDescriptor(prototype, key) })),
)
const probeKeys = ['polluted', 'isAdmin', 'prototype', 'foo', 'x']

const ownKeyCounts = guardedPrototypes.map((prototype) => Reflect.ownKeys(prototype).length)

/**
 * No prototype gained or lost a property and a fresh object inherits nothing new (cheap, after
 * every case); `thoroughly`, no property of a prototype was replaced either (after every property).
 */
function assertUnpolluted(thoroughly = false): void {
  const probe: Record<string, unknown> = {}
  for (const key of probeKeys) assert.equal(probe[key], undefined, `({}).${key} is defined: Object.prototype was polluted`)
  for (const [index, prototype] of guardedPrototypes.entries()) {
    assert.equal(Reflect.ownKeys(prototype).length, ownKeyCounts[index], 'a built-in prototype gained or lost a property')
    if (!thoroughly) continue
    const before = pristine[index] ?? []
    assert.deepEqual(
      Reflect.ownKeys(prototype),
      before.map(({ key }) => key),
      'a built-in prototype gained or lost a property',
    )
    for (const { key, descriptor: was } of before) {
      const is = Object.getOwnPropertyDescriptor(prototype, key)
      assert.ok(
        was?.value === is?.value && was?.get === is?.get && was?.set === is?.set,
        `a built-in prototype's ${String(key)} was replaced`,
      )
    }
  }
}

const repositoryRoot = dirname(import.meta.dirname)
const statusWords = ['complete', 'partial', 'failed', 'empty']

/** Markers of a leaked stack trace or internal path, unless the request itself carried them. */
function assertNoLeak(text: string, sent: string): void {
  for (const marker of ['    at ', 'node:internal', repositoryRoot, '.ts:']) {
    if (!sent.includes(marker)) assert.ok(!text.includes(marker), `the answer leaks ${JSON.stringify(marker)}: ${text.slice(0, 500)}`)
  }
}

type Json = Record<string, unknown>

/** The events of a streamed answer (NDJSON lines or SSE blocks), each a JSON object. */
function streamedEvents(response: LightMyRequestResponse): Json[] {
  const type = String(response.headers['content-type'])
  if (type.startsWith('application/x-ndjson')) {
    return response.body
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Json)
  }
  return response.body
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [event, data] = block.split('\n')
      assert.match(event ?? '', /^event: (answer|done)$/)
      if (data?.startsWith('data: ') !== true) assert.fail(`an event without data: ${block}`)
      return JSON.parse(data.slice(6)) as Json
    })
}

/**
 * What every answer to /execute must be: not a 5xx but 503, JSON with `error.code` (its documented
 * status) or a reply (or a well-formed stream of events), no stack trace, nothing polluted.
 * Answers the parsed body, or the events of a stream.
 */
function checkAnswer(response: LightMyRequestResponse, sent: string): { body?: Json; events?: Json[] } {
  const { statusCode } = response
  assert.ok(statusCode < 500 || statusCode === 503, `HTTP ${String(statusCode)}: ${response.body.slice(0, 500)}`)
  assertNoLeak(response.body, sent)
  assertUnpolluted()
  assert.deepEqual(violations, [], 'a tool received a forbidden key or prototype')
  const type = String(response.headers['content-type'])
  if (statusCode === 200 && /^(application\/x-ndjson|text\/event-stream)/.test(type)) {
    const events = streamedEvents(response)
    const done = events.at(-1)
    assert.equal(done?.event, 'done')
    assert.ok(statusWords.includes(String(done.status)))
    for (const event of events.slice(0, -1)) assert.equal(event.event, 'answer')
    return { events }
  }
  assert.match(type, /^application\/json/)
  const body = JSON.parse(response.body) as Json
  if (statusCode === 200) {
    assert.ok(statusWords.includes(String(body.status)), `a 200 without a status word: ${response.body.slice(0, 300)}`)
    assert.ok(Array.isArray(body.results))
    assert.ok(body.messages === undefined || Array.isArray(body.messages))
  } else {
    const error = body.error as { code?: unknown } | undefined
    assert.equal(typeof error?.code, 'string', `HTTP ${String(statusCode)} without error.code: ${response.body.slice(0, 300)}`)
    const documented = requestErrorCodes[error?.code as keyof typeof requestErrorCodes] as { status: number } | undefined
    assert.equal(documented?.status, statusCode, `error.code ${String(error?.code)} with HTTP ${String(statusCode)}`)
  }
  return { body }
}

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

const hostileKeys = [
  '__proto__',
  'constructor',
  'prototype',
  'polluted',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
  'toJSON',
  'length',
]
const hostileStrings = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'polluted',
  '\u0000',
  '\uD800',
  '\uDFFF\uD800',
  '\uFEFF',
  '\u202E',
  '💥',
  'e\u0301',
  '\r\n\r\n',
  'data: [DONE]',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  'get_time',
  'GET_TIME',
  'get-time',
  'get_weather',
  'x'.repeat(300),
]
const hugeNumbers = [1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 2 ** 64, 1e21, 5e-324, -0]

const fuzzKey = fc.oneof(fc.constantFrom(...hostileKeys), fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 6 }))
const fuzzString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom(...hostileStrings) },
  fc.string({ unit: 'grapheme', maxLength: 6 }),
)
const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.constantFrom(...hugeNumbers), fuzzString)

/** JSON-able values whose object keys include `__proto__`, `constructor` and friends (as own keys). */
const { hostileJson } = fc.letrec<{ hostileJson: unknown }>((tie) => ({
  hostileJson: fc.oneof(
    { depthSize: 'small', maxDepth: 5 },
    leaf,
    fc.array(tie('hostileJson'), { maxLength: 4 }),
    fc.dictionary(fuzzKey, tie('hostileJson'), { maxKeys: 4 }),
  ),
}))

/** JSON-able values without keys the body parser refuses outright: they reach the argument parser. */
const safeKey = fc
  .oneof(fc.string({ maxLength: 8 }), fc.constantFrom('timezone', 'prototype', 'toString', 'then', 'polluted'))
  .filter((key) => !forbiddenKeys.includes(key))
const { plainJson } = fc.letrec<{ plainJson: unknown }>((tie) => ({
  plainJson: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    leaf,
    fc.array(tie('plainJson'), { maxLength: 3 }),
    fc.dictionary(safeKey, tie('plainJson'), { maxKeys: 3, noNullPrototype: true }),
  ),
}))

/**
 * Deep nesting is too deep for JSON.stringify: a payload carries a marker string where the nesting
 * goes, and `serialize` writes the nesting in.
 */
const deepMarker = fc
  .record({
    kind: fc.constantFrom('a', 'o', 'p', 'u'),
    depth: fc.oneof({ weight: 15, arbitrary: fc.integer({ min: 1, max: 40 }) }, fc.integer({ min: 1, max: 20_000 })),
  })
  .map(({ kind, depth }) => `DEEP_MARKER_${kind}_${String(depth)}`)

function deepText(kind: string, depth: number): string {
  switch (kind) {
    case 'a':
      return `${'['.repeat(depth)}1${']'.repeat(depth)}`
    case 'o':
      return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    case 'p':
      return `${'{"__proto__":'.repeat(depth)}{"polluted":1}${'}'.repeat(depth)}`
    default:
      return '[{"a":'.repeat(depth) // unbalanced
  }
}

/** JSON text of `value`, nesting markers replaced (`undefined` gives an empty body). */
function serialize(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined
  return (text ?? '').replace(/"DEEP_MARKER_(\w)_(\d+)"/g, (_match, kind: string, depth: string) => deepText(kind, Number(depth)))
}

/** Fields added to a call or a payload, beside the ones it has. */
const extraFields = fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, fc.dictionary(fuzzKey, hostileJson, { maxKeys: 2 }))

const fuzzArguments = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(undefined, '', '{}', '{"timezone":"UTC"}', { timezone: 'Asia/Tokyo' }, {}, { a: 1 }) },
  { weight: 2, arbitrary: plainJson },
  { weight: 2, arbitrary: plainJson.map((value) => JSON.stringify(value)) },
  fc.constantFrom(
    undefined,
    '',
    '   ',
    '{}',
    '{"timezone":"UTC"}',
    '{"timezone":"Asia/Tokyo"}',
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"a":[{"__proto__":{"polluted":1}}]}',
    '{"\\u005f_proto__":{"polluted":1}}',
    '{"constructor":1}',
    'null',
    '[]',
    '1e999',
    '{"timezone":"UTC"',
    '\uFEFF{}',
    '{"timezone":"UTC","timezone":"Asia/Tokyo"}',
  ),
  hostileJson.map((value) => JSON.stringify(value)),
  hostileJson,
  fuzzString,
  deepMarker,
  deepMarker.map((marker) => JSON.stringify(marker)),
)

/** A tool call whose every field is usually right and sometimes anything (`undefined` leaves it out). */
const fuzzToolCall = fc.record({
  id: fc.oneof(
    { weight: 40, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
    fuzzString,
    fc.integer(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constantFrom(...hugeNumbers),
    hostileJson,
  ),
  type: fc.oneof({ weight: 40, arbitrary: fc.constant('function') }, fc.constant(undefined), fuzzString, hostileJson),
  name: fc.oneof(
    { weight: 40, arbitrary: fc.constantFrom('get_time', 'get_date', 'echo') },
    fuzzString,
    fc.integer(),
    fc.constant(null),
    fc.constant(undefined),
    hostileJson,
  ),
  arguments: fuzzArguments,
  duplicateOf: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, fc.nat()),
  extra: extraFields,
})
type FuzzCall = {
  id?: unknown
  type?: unknown
  name?: unknown
  arguments: unknown
  extra: Record<string, unknown> | null
}

/** Fuzzed calls, some ids copied from an earlier call. */
const fuzzCalls = fc
  .oneof(
    { weight: 12, arbitrary: fc.array(fuzzToolCall, { maxLength: 8 }) },
    // More calls than TOOLGATE_MAX_CALLS_PER_REQUEST allows.
    fc.integer({ min: 129, max: 200 }).map((count) =>
      Array.from({ length: count }, (_, index) => ({
        id: `c${String(index)}`,
        name: 'get_time',
        arguments: '{}',
        duplicateOf: null,
        extra: null,
      })),
    ),
  )
  .map((calls) =>
    calls.map(({ duplicateOf, ...call }, index): FuzzCall => {
      const earlier = duplicateOf === null || index === 0 ? undefined : calls[duplicateOf % index]
      return earlier === undefined ? call : { ...call, id: earlier.id }
    }),
  )

const payloadFormats = [
  'chat.completion',
  'assistant_message',
  'conversation',
  'sketch',
  'responses',
  'anthropic',
  'gemini',
  'ollama',
  'chunks',
  'sse',
] as const
type PayloadShape = (typeof payloadFormats)[number]

const withExtra = (extra: Record<string, unknown> | null, value: Record<string, unknown>) =>
  extra === null ? value : { ...extra, ...value }

/** Streamed chunks of the calls, each call's arguments cut in `pieces` fragments. */
function chunksOf(calls: readonly FuzzCall[], pieces: number): unknown[] {
  const fragments = calls.flatMap((call, index) => {
    const text = typeof call.arguments === 'string' || call.arguments === undefined ? call.arguments : serialize(call.arguments)
    const size = Math.max(1, Math.ceil((text?.length ?? 0) / pieces))
    const parts: Array<string | undefined> = text === undefined || text === '' ? [text] : []
    for (let at = 0; text !== undefined && at < text.length; at += size) parts.push(text.slice(at, at + size))
    return parts.map((part, at) => ({
      index,
      ...(at === 0 ? { id: call.id, type: call.type, function: { name: call.name, arguments: part } } : { function: { arguments: part } }),
    }))
  })
  return fragments.map((fragment) => ({
    id: 'chatcmpl-fuzz',
    object: 'chat.completion.chunk',
    created: 1_764_000_000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: { tool_calls: [fragment] }, finish_reason: null }],
  }))
}

const sse = (chunks: readonly unknown[], separator: string) =>
  `${chunks.map((chunk) => `data: ${serialize(chunk)}`).join(separator)}${separator}data: [DONE]${separator}`

/** A payload of `format` carrying `calls`, as JSON text or (sse) as an event stream. */
function payloadOf(
  format: PayloadShape,
  calls: readonly FuzzCall[],
  extra: Record<string, unknown> | null,
  pieces: number,
): { text: string; contentType: string } {
  const openai = calls.map((call) =>
    withExtra(call.extra, { id: call.id, type: call.type, function: { name: call.name, arguments: call.arguments } }),
  )
  const assistant = withExtra(extra, { role: 'assistant', content: null, tool_calls: openai })
  let payload: unknown
  switch (format) {
    case 'chat.completion':
      payload = withExtra(extra, {
        id: 'chatcmpl-fuzz',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: assistant, finish_reason: 'tool_calls' }],
      })
      break
    case 'assistant_message':
      payload = assistant
      break
    case 'conversation':
      payload = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Time?' }, assistant]
      break
    case 'sketch':
      payload = {
        message: [
          { role: 'assistant', tool_calls: openai.slice(0, 2) },
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: openai.slice(2) },
        ],
      }
      break
    case 'responses':
      payload = withExtra(extra, {
        object: 'response',
        output: [
          { type: 'reasoning', id: 'rs_1', summary: [] },
          ...calls.map((call) =>
            withExtra(call.extra, { type: 'function_call', id: 'fc_1', call_id: call.id, name: call.name, arguments: call.arguments }),
          ),
        ],
      })
      break
    case 'anthropic':
      payload = withExtra(extra, {
        type: 'message',
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          ...calls.map((call) => withExtra(call.extra, { type: 'tool_use', id: call.id, name: call.name, input: call.arguments })),
        ],
      })
      break
    case 'gemini':
      payload = withExtra(extra, {
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                { text: 'x' },
                ...calls.map((call) => withExtra(call.extra, { functionCall: { name: call.name, args: call.arguments, id: call.id } })),
              ],
            },
          },
        ],
      })
      break
    case 'ollama':
      payload = withExtra(extra, {
        model: 'llama3',
        message: {
          role: 'assistant',
          content: '',
          tool_calls: calls.map((call) => withExtra(call.extra, { id: call.id, function: { name: call.name, arguments: call.arguments } })),
        },
      })
      break
    case 'chunks':
      payload = chunksOf(calls, pieces)
      break
    case 'sse':
      return { text: sse(chunksOf(calls, pieces), '\n\n'), contentType: 'text/event-stream' }
  }
  return { text: serialize(payload), contentType: 'application/json' }
}

const fuzzQuery = fc.oneof(
  { weight: 8, arbitrary: fc.constant('') },
  fc.constantFrom(
    '?mode=validate',
    '?mode=sequential',
    '?mode=parallel',
    '?format=openai',
    '?format=anthropic',
    '?mode=bogus',
    '?mode=__proto__',
    '?format=constructor',
    '?mode=validate&mode=parallel',
    '?__proto__[polluted]=1',
    '?constructor[prototype][polluted]=1',
    '?mode',
    '?%',
  ),
)
const fuzzAccept = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  fc.constantFrom('application/x-ndjson', 'text/event-stream', 'application/json', '*/*', 'text/event-stream, application/x-ndjson'),
)

/** Text mutations of a well-formed payload: cut, spliced, prefixed, keys smuggled in. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fuzzString,
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        '"',
        ',',
        ':',
        '\\',
        '\\u',
        'null',
        '"__proto__":{"polluted":1},',
        '"constructor":{"prototype":{"polluted":1}},',
      ),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant('smuggle' as const),
    key: fc.constantFrom('"__proto__"', '"\\u005f_proto__"', '"constructor"', '"__proto__" '),
  }),
  fc.record({
    kind: fc.constant('wrap' as const),
    before: fc.constantFrom('\uFEFF', ' \n\t', '[', '{"a":'),
    after: fc.constantFrom('', ' ', 'x', ']', '}', '\u0000'),
  }),
)

function mutate(text: string, change: typeof mutation extends fc.Arbitrary<infer T> ? T : never): string {
  const at = (position: number) => (text.length === 0 ? 0 : position % (text.length + 1))
  switch (change.kind) {
    case 'cut':
      return text.slice(0, at(change.at))
    case 'insert':
      return text.slice(0, at(change.at)) + change.text + text.slice(at(change.at))
    case 'delete':
      return text.slice(0, at(change.at)) + text.slice(at(change.at) + change.length)
    case 'smuggle': {
      const brace = text.indexOf('{')
      return brace === -1 ? text : `${text.slice(0, brace + 1)}${change.key}:{"polluted":"yes"},${text.slice(brace + 1)}`
    }
    case 'wrap':
      return change.before + text + change.after
  }
}

const jsonContentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json;charset=UTF-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16le',
  'application/vnd.api+json',
]
const otherContentTypes = [
  'text/event-stream',
  'text/event-stream; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'multipart/form-data; boundary=x',
  'application/json, text/plain',
  ';',
  'application/',
  undefined,
]

/** A raw body for the event-stream parser: SSE-looking lines, fuzzed. */
const sseLike = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'data: ',
        'data:',
        'event: x',
        ': comment',
        '\n',
        '\r\n',
        '\n\n',
        '\r\n\r\n',
        '[DONE]',
        '{',
        '}',
        '"',
        '{"object":"chat.completion.chunk","choices":[',
        ']}',
        '{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"echo","arguments":"{}"}}]}}',
        '{"__proto__":{"polluted":1}}',
      ),
      fuzzString,
    ),
    { maxLength: 20 },
  )
  .map((parts) => parts.join(''))

// ---------------------------------------------------------------------------------------------
// Property (b): well-formed batches with outcomes known in advance.
// ---------------------------------------------------------------------------------------------

type Expectation = 'ok' | 'invalid' | 'either' | 'unknown_tool'
interface PlannedCall {
  id: string
  name: string
  arguments: unknown
  expect: Expectation
}

const maxArgumentBytes = 2_048

const validArguments = fc.constantFrom(
  undefined,
  '',
  '  \n',
  '{}',
  {},
  { timezone: 'UTC' },
  '{"timezone":"Asia/Tokyo"}',
  { timezone: 'Europe/Paris' },
  { timezone: ' utc ' },
  '{"timezone":"America/New_York"}',
)
const invalidArguments = fc.oneof(
  fc.string({ minLength: 1 }).filter((text) => text.trim() !== '' && !parsesAsJson(text)),
  fc.constantFrom(
    'null',
    '[]',
    '42',
    '"UTC"',
    'true',
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"constructor":1}',
    '{"timezone":"Mars/Olympus_Mons"}',
    '{"timezone":5}',
    '{"timezone":"UTC","extra":1}',
    '{"timezone":""}',
    [],
    42,
    null,
    true,
    'not json',
    { constructor: 'x' },
    { timezone: 'UTC', extra: [1] },
    `{"timezone":"UTC","pad":"${'x'.repeat(maxArgumentBytes)}"}`,
    `${'['.repeat(40)}${']'.repeat(40)}`,
    `{"timezone":${'['.repeat(40)}${']'.repeat(40)}}`,
  ),
)
const anyArguments = fc.oneof(
  plainJson,
  plainJson.map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 20 }),
)

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
    return true
  } catch {
    return false
  }
}

const plannedId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 16 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'call_1'),
)
const unknownName = fc
  .oneof(
    fc.string({ maxLength: 16 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', 'get_weather', 'GET_TIME', 'get_time ', 'echo', 'x'.repeat(100)),
  )
  .filter((name) => !toolNames.has(name))

const plannedBatch = fc.uniqueArray(plannedId, { minLength: 1, maxLength: 20 }).chain((ids) =>
  fc.tuple(
    ...ids.map((id) =>
      fc
        .oneof(
          {
            weight: 2,
            arbitrary: fc.record({
              name: unknownName,
              arguments: fc.oneof(validArguments, invalidArguments),
              expect: fc.constant<Expectation>('unknown_tool'),
            }),
          },
          {
            weight: 3,
            arbitrary: fc.record({
              name: fc.constantFrom('get_time', 'get_date'),
              arguments: validArguments,
              expect: fc.constant<Expectation>('ok'),
            }),
          },
          {
            weight: 3,
            arbitrary: fc.record({
              name: fc.constantFrom('get_time', 'get_date'),
              arguments: invalidArguments,
              expect: fc.constant<Expectation>('invalid'),
            }),
          },
          {
            weight: 2,
            arbitrary: fc.record({
              name: fc.constantFrom('get_time', 'get_date'),
              arguments: anyArguments,
              expect: fc.constant<Expectation>('either'),
            }),
          },
        )
        .map((call): PlannedCall => ({ id, ...call })),
    ),
  ),
)

/** The id each answer message carries back (or, for Ollama, the tool name), in order. */
function messageKeys(format: PayloadShape, messages: readonly Json[]): { ids: unknown[]; okFlags?: boolean[] } {
  switch (format) {
    case 'responses':
      for (const message of messages) assert.equal(message.type, 'function_call_output')
      return { ids: messages.map((message) => message.call_id) }
    case 'anthropic': {
      assert.equal(messages.length, 1)
      const [message] = messages
      assert.equal(message?.role, 'user')
      const blocks = message.content as Json[]
      for (const block of blocks) assert.equal(block.type, 'tool_result')
      return { ids: blocks.map((block) => block.tool_use_id), okFlags: blocks.map((block) => block.is_error !== true) }
    }
    case 'gemini': {
      assert.equal(messages.length, 1)
      const [message] = messages
      assert.equal(message?.role, 'user')
      const parts = (message.parts as Array<{ functionResponse: Json }>).map((part) => part.functionResponse)
      return { ids: parts.map((part) => part.id) }
    }
    case 'ollama':
      for (const message of messages) assert.equal(message.role, 'tool')
      return { ids: messages.map((message) => message.tool_name) }
    default:
      for (const message of messages) assert.equal(message.role, 'tool')
      return { ids: messages.map((message) => message.tool_call_id) }
  }
}

interface Result {
  id: string
  name: string
  ok: boolean
  error?: { code: string; message: string }
  attempts?: number
}

/**
 * What a planned call comes to in `format`: in a Gemini payload, "args": null is how the
 * google-genai SDK's model_dump() writes a call without arguments, so it means {} there.
 */
function plannedIn(format: string, call: PlannedCall): PlannedCall {
  return format === 'gemini' && call.arguments === null && call.expect === 'invalid' ? { ...call, expect: 'ok' } : call
}

function checkResult(result: Result | undefined, call: PlannedCall, ran: boolean): void {
  assert.ok(result, `no result for ${JSON.stringify(call.id)}`)
  assert.equal(result.id, call.id)
  assert.equal(result.name, call.name)
  const code = result.ok ? 'ok' : result.error?.code
  const expected = { ok: ['ok'], invalid: ['invalid_arguments'], either: ['ok', 'invalid_arguments'], unknown_tool: ['unknown_tool'] }[
    call.expect
  ]
  assert.ok(
    expected.includes(String(code)),
    `${call.name}(${JSON.stringify(call.arguments)}) answered ${String(code)}, expected ${expected.join(' or ')}: ${result.error?.message ?? ''}`,
  )
  if (ran) assert.equal(result.attempts, result.ok ? 1 : 0)
  if (result.ok) assert.equal(result.error, undefined)
  else assert.equal(typeof result.error?.message, 'string')
}

/** The status word and `errors` agree with the per-call outcomes. */
function checkStatus(status: unknown, errors: unknown, results: readonly Result[]): void {
  const succeeded = results.filter((result) => result.ok).length
  const word = results.length === 0 ? 'empty' : succeeded === results.length ? 'complete' : succeeded === 0 ? 'failed' : 'partial'
  assert.equal(status, word)
  if (succeeded === results.length) assert.equal(errors, null)
  else {
    assert.equal(typeof errors, 'string')
    assert.ok(String(errors).startsWith('Multiple errors occurred:\n'))
    for (const result of results) if (!result.ok) assert.ok(String(errors).includes(`${result.name}: `))
  }
}

// ---------------------------------------------------------------------------------------------
// Property (c): an oracle for the argument parser.
// ---------------------------------------------------------------------------------------------

/** Nesting depth: 0 for a primitive, 1 for a flat object or array. Iterative: the inputs may be deep. */
function depthOf(root: unknown): number {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[root, 1]]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [value, depth] = item
    if (typeof value !== 'object' || value === null) continue
    deepest = Math.max(deepest, depth)
    for (const child of Object.values(value)) stack.push([child, depth + 1])
  }
  return deepest
}

function hasForbiddenKey(root: unknown): boolean {
  const stack: unknown[] = [root]
  for (let value = stack.pop(); stack.length > 0 || value !== undefined; value = stack.pop()) {
    if (typeof value !== 'object' || value === null) continue
    for (const key of Object.keys(value)) {
      if (forbiddenKeys.includes(key)) return true
      stack.push((value as Record<string, unknown>)[key])
    }
  }
  return false
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** What parseArguments should answer: the object, or undefined for invalid_arguments. */
function expectedArguments(raw: unknown, limits: ArgumentLimits): Record<string, unknown> | undefined {
  if (raw === undefined) return {}
  let value: unknown = raw
  if (typeof raw === 'string') {
    if (raw.trim() === '') return {}
    if (Buffer.byteLength(raw) > limits.maxArgumentBytes) return undefined
    try {
      value = JSON.parse(raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw) as unknown
    } catch {
      return undefined
    }
  }
  if (!isPlainObject(value) || depthOf(value) > limits.maxArgumentDepth || hasForbiddenKey(value)) return undefined
  if (typeof raw !== 'string' && Buffer.byteLength(JSON.stringify(value)) > limits.maxArgumentBytes) return undefined
  return value
}

const show = (value: unknown) => ((JSON.stringify(value) as string | undefined) ?? String(value)).slice(0, 200)

const argumentInputs = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(...hostileStrings),
  hostileJson.map((value) => JSON.stringify(value)),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc
    .tuple(
      hostileJson.map((value) => JSON.stringify(value)),
      mutation,
    )
    .map(([text, change]) => mutate(text, change)),
  fc
    .tuple(fc.constantFrom(' ', '\n', '\t', '\uFEFF', '\u00A0', '\u2028'), plainJson)
    .map(([space, value]) => `${space}${JSON.stringify(value)}${space}`),
  deepMarker.map((marker) => serialize(marker)),
  deepMarker.map((marker) => serialize({ nested: marker })),
  hostileJson,
  fc.jsonValue(),
  plainJson,
  // Parsed deep nesting, as a client that parsed the arguments itself would send it.
  fc
    .tuple(fc.constantFrom('a', 'o'), fc.integer({ min: 1, max: 2_000 }))
    .map(([kind, depth]) => JSON.parse(`{"nested":${deepText(kind, depth)}}`) as unknown),
)

// ---------------------------------------------------------------------------------------------

describe('fuzzing', { timeout }, () => {
  it(`(a) answers arbitrary JSON bodies with JSON, never a 5xx but 503, a stack trace or pollution (${String(numRuns)} cases)`, async (t) => {
    const app = await buildTestApp(t, { tools: offlineTools() })
    const body = fc.oneof(hostileJson, fc.jsonValue(), fc.anything({ withNullPrototype: true, withObjectString: true }))
    await fc.assert(
      fc.asyncProperty(body, fuzzQuery, fc.constantFrom(...jsonContentTypes), async (value, query, contentType) => {
        const text = serialize(value)
        const response = await app.inject({
          method: 'POST',
          url: `/execute${query}`,
          headers: { 'content-type': contentType },
          payload: text,
        })
        checkAnswer(response, text)
      }),
      runOptions,
    )
    assertUnpolluted(true)
  })

  it(`(a) answers fuzzed near-valid payloads of every shape the same way (${String(numRuns)} cases)`, async (t) => {
    const app = await buildTestApp(t, { tools: offlineTools() })
    const request = fc.record({
      format: fc.constantFrom(...payloadFormats),
      calls: fuzzCalls,
      extra: extraFields,
      pieces: fc.integer({ min: 1, max: 5 }),
      query: fuzzQuery,
      accept: fuzzAccept,
      requestId: fc.oneof(fc.constant(null), fuzzString),
    })
    await fc.assert(
      fc.asyncProperty(request, async ({ format, calls, extra, pieces, query, accept, requestId }) => {
        const { text, contentType } = payloadOf(format, calls, extra, pieces)
        const headers: Record<string, string> = { 'content-type': contentType }
        if (accept !== undefined) headers.accept = accept
        if (requestId !== null && /^[\x20-\x7e]*$/.test(requestId)) headers['x-request-id'] = requestId
        const response = await app.inject({ method: 'POST', url: `/execute${query}`, headers, payload: text })
        checkAnswer(response, text)
        if (requestId !== null && /^[\w.:-]{1,128}$/.test(requestId)) assert.equal(response.headers['x-request-id'], requestId)
      }),
      runOptions,
    )
    assertUnpolluted(true)
  })

  it(`(a) answers raw strings and bytes sent as JSON or as an event stream (${String(numRuns)} cases)`, async (t) => {
    const app = await buildTestApp(t, { tools: offlineTools() })
    const near = fc
      .record({ format: fc.constantFrom(...payloadFormats), calls: fuzzCalls, pieces: fc.integer({ min: 1, max: 3 }) })
      .map(({ format, calls, pieces }) => payloadOf(format, calls, null, pieces).text)
    const raw = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
      sseLike,
      fc.tuple(near, mutation).map(([text, change]) => mutate(text, change)),
      fc.tuple(near, fc.array(mutation, { minLength: 2, maxLength: 4 })).map(([text, changes]) => changes.reduce(mutate, text)),
      deepMarker.map((marker) => serialize(marker)),
      fc.constantFrom(
        '',
        ' ',
        'null',
        '""',
        '"x"',
        '0',
        '[]',
        '{}',
        '\uFEFF{}',
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":{"polluted":1}}}',
        '[1,',
      ),
    )
    const contentType = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('application/json', 'text/event-stream') },
      fc.constantFrom(...jsonContentTypes, ...otherContentTypes),
    )
    await fc.assert(
      fc.asyncProperty(raw, contentType, fuzzQuery, async (payload, type, query) => {
        const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type }
        const response = await app.inject({ method: 'POST', url: `/execute${query}`, headers, payload })
        checkAnswer(response, typeof payload === 'string' ? payload : payload.toString('latin1'))
      }),
      runOptions,
    )
    assertUnpolluted(true)
  })

  it(`(b) answers every call of an admitted batch exactly once, in order, with its id (${String(numRuns)} cases)`, async (t) => {
    const app = await buildTestApp(t, { tools: offlineTools(), env: { TOOLGATE_MAX_ARGUMENT_BYTES: String(maxArgumentBytes) } })
    const request = fc.record({
      calls: plannedBatch,
      format: fc.constantFrom(...payloadFormats),
      pieces: fc.integer({ min: 1, max: 4 }),
      mode: fc.constantFrom('', '', '', '?mode=sequential', '?mode=validate'),
      accept: fc.constantFrom(undefined, undefined, undefined, 'application/x-ndjson', 'text/event-stream'),
    })
    await fc.assert(
      fc.asyncProperty(request, async ({ calls, format, pieces, mode, accept }) => {
        const fuzzCallsOf = calls.map((call): FuzzCall => ({
          id: call.id,
          type: 'function',
          name: call.name,
          arguments: call.arguments,
          extra: null,
        }))
        const { text, contentType } = payloadOf(format, fuzzCallsOf, null, pieces)
        const headers: Record<string, string> = { 'content-type': contentType, ...(accept === undefined ? {} : { accept }) }
        const response = await app.inject({ method: 'POST', url: `/execute${mode}`, headers, payload: text })
        assert.equal(response.statusCode, 200, response.body.slice(0, 500))
        const { body, events } = checkAnswer(response, text)
        const ran = mode !== '?mode=validate'
        if (events !== undefined) {
          assert.ok(ran)
          const answers = events.slice(0, -1) as Array<{ index: number; result: Result; messages: Json[] }>
          assert.deepEqual(
            answers.map((answer) => answer.index).sort((a, b) => a - b),
            calls.map((_, index) => index),
            'one answer event per call',
          )
          const results: Result[] = []
          for (const answer of answers) {
            const call = calls[answer.index]
            assert.ok(call)
            checkResult(answer.result, plannedIn(format, call), ran)
            assert.deepEqual(messageKeys(format, answer.messages).ids, [format === 'ollama' ? call.name : call.id])
            results[answer.index] = answer.result
          }
          const done = events.at(-1)
          checkStatus(done?.status, done?.errors, results)
          return
        }
        assert.ok(body)
        const results = body.results as Result[]
        assert.equal(results.length, calls.length, 'one result per call')
        calls.forEach((call, index) => {
          checkResult(results[index], plannedIn(format, call), ran)
        })
        checkStatus(body.status, body.errors, results)
        if (!ran) {
          assert.equal(body.messages, undefined)
          return
        }
        const { ids, okFlags } = messageKeys(format, body.messages as Json[])
        assert.deepEqual(
          ids,
          calls.map((call) => (format === 'ollama' ? call.name : call.id)),
          'one message per call, in order, with its id',
        )
        if (okFlags)
          assert.deepEqual(
            okFlags,
            results.map((result) => result.ok),
          )
      }),
      runOptions,
    )
    assertUnpolluted(true)
  })

  it(`(c) the argument parser answers a plain object or invalid_arguments, as an oracle says, and never throws anything else (${String(numRuns)} cases)`, () => {
    const registry = new ToolRegistry(offlineTools())
    const limits = fc.record({ maxArgumentBytes: fc.integer({ min: 2, max: 4_096 }), maxArgumentDepth: fc.integer({ min: 1, max: 40 }) })
    fc.assert(
      fc.property(argumentInputs, limits, fc.constantFrom('echo', 'get_time', 'nope', '__proto__'), (raw, limit, name) => {
        const expected = expectedArguments(raw, limit)
        let parsed: Record<string, unknown> | undefined
        try {
          parsed = parseArguments(raw, limit)
        } catch (error) {
          assert.ok(error instanceof CallError, `parseArguments threw ${String(error)}`)
          assert.equal(error.code, 'invalid_arguments')
          assert.ok(!/\n\s+at /.test(error.message))
        }
        if (expected === undefined) assert.equal(parsed, undefined, `accepted ${show(raw)}`)
        else {
          assert.ok(parsed, `refused ${show(raw)}`)
          assert.ok(isPlainObject(parsed))
          // A string is parsed; an object the client parsed itself is passed on as it is.
          if (typeof raw === 'string' || raw === undefined) assert.deepEqual(parsed, expected)
          else assert.equal(parsed, raw)
        }

        const call: RawToolCall = { id: 'call_1', name, arguments: raw, path: 'tool_calls[0]' }
        const prepared = prepareCall(call, registry, limit)
        if (prepared.error !== undefined) {
          assert.ok(prepared.error instanceof CallError)
          assert.ok(Object.hasOwn(callErrorCodes, prepared.error.code))
        }
        if (!toolNames.has(name)) assert.equal(prepared.error?.code, 'unknown_tool')
        else if (expected === undefined) assert.equal(prepared.error?.code, 'invalid_arguments')
        else if (name === 'echo') {
          assert.equal(prepared.error, undefined)
          assert.equal(JSON.stringify(prepared.args), JSON.stringify(expected))
          inspectArguments(prepared.args)
        } else assert.ok(prepared.error === undefined || prepared.error.code === 'invalid_arguments')
        assertUnpolluted()
        assert.deepEqual(violations, [])
      }),
      runOptions,
    )
    assertUnpolluted(true)
  })
})

// Found by the fuzzing above: zod 4's length checks run on a value that already failed its type
// check and compare its `length` with a number, so an object whose own `toString` is not a
// function made them throw (a 500 for the request, tool_error for a call's arguments).
describe('regressions found by fuzzing', () => {
  it('refuses a body or a call id whose `length` is an object with its own toString with a 400, not a 500', async (t) => {
    const app = await buildTestApp(t, { tools: offlineTools() })
    const payloads = [
      '{"length":{"toString":1}}',
      '{"length":[{"toString":1}]}',
      '{"role":"assistant","tool_calls":[{"id":{"length":{"toString":1}}}]}',
    ]
    for (const payload of payloads) {
      const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload })
      assert.equal(response.statusCode, 400, payload)
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'invalid_payload')
    }
  })

  it('answers such arguments invalid_arguments, not tool_error', () => {
    const registry = new ToolRegistry(offlineTools())
    const call: RawToolCall = { id: 'call_1', name: 'get_time', arguments: '{"timezone":{"length":{"toString":1}}}', path: 'tool_calls[0]' }
    assert.equal(prepareCall(call, registry, { maxArgumentBytes: 4_096, maxArgumentDepth: 32 }).error?.code, 'invalid_arguments')
  })
})
