import { z } from 'zod'
import { RequestError } from '../errors.ts'
import { pickIssue, reachInto } from '../zod-issues.ts'
import type { ToolDescription } from '../tools/tool.ts'
import { anthropic } from './anthropic.ts'
import { gemini } from './gemini.ts'
import { ollama } from './ollama.ts'
import { openaiChat } from './openai-chat.ts'
import { openaiResponses } from './openai-responses.ts'
import { parseEventStream } from './event-stream.ts'
import type { PayloadCalls, PayloadShape } from './provider.ts'

export type { RawToolCall } from './provider.ts'

/** Every provider toolgate speaks. A new one is a module beside these and an entry here. */
export const providers = [openaiChat, openaiResponses, anthropic, gemini, ollama] as const

export type AnyProvider = (typeof providers)[number]
export type ProviderName = AnyProvider['name']
/** One answer in any provider's format. */
export type ToolMessage = ReturnType<AnyProvider['answers']>[number]

/** The providers as `?format=` names them. */
export const providerNames = providers.map((provider) => provider.name) as [ProviderName, ...ProviderName[]]

const byName = new Map<string, AnyProvider>(providers.map((provider) => [provider.name, provider]))

export function providerNamed(name: ProviderName): AnyProvider {
  const provider = byName.get(name)
  if (provider === undefined) throw new Error(`invariant broken: no provider named ${name}`)
  return provider
}

/** A body decoded: the provider it came from (whose answers it gets), its shape and its calls. */
export interface DecodedPayload extends PayloadCalls {
  provider: AnyProvider
}

type Shaped = { provider: AnyProvider; shape: PayloadShape }
type Decoding = z.ZodType<DecodedPayload>
type Decoded = z.ZodSafeParseResult<DecodedPayload>

/** One branch of a union of shapes: its schema, and the test a body passes to be parsed with it alone. */
interface Branch {
  schema: Decoding
  looksLike: (body: unknown) => boolean
}

const decoding = ({ provider, shape }: Shaped): Branch => ({
  schema: shape.schema.transform((decoded): DecodedPayload => ({ provider, ...decoded })),
  looksLike: shape.looksLike,
})
const unionOf = (branches: readonly Branch[]) => z.union(branches.map(({ schema }) => schema) as unknown as [Decoding, ...Decoding[]])

/**
 * Whether some object of `value` has a `length` that is an object or an array. Such a length is
 * the one thing that makes a zod schema throw rather than refuse (see validator-compiler.ts), and
 * so the one thing for which the shapes before a body's own could answer otherwise than by
 * refusing it. No JSON value is cyclic.
 */
function holdsObjectLength(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const stack: object[] = [value]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (Array.isArray(next)) {
      for (const item of next as unknown[]) if (typeof item === 'object' && item !== null) stack.push(item)
      continue
    }
    const fields = next as Record<string, unknown>
    for (const key in fields) {
      const item = fields[key]
      if (typeof item !== 'object' || item === null) continue
      if (key === 'length') return true
      stack.push(item)
    }
  }
  return false
}

/**
 * `union.safeParse(body)` without trying every branch before the body's own: the first branch
 * whose test the body passes parses it. Each test holds of every body its branch accepts, so the
 * branches before that one refuse the body, and the union's answer is that branch's when it
 * accepts it (unless the body holds an object-valued `length`, with which a branch before may throw
 * instead of refusing). Otherwise the union itself answers, so that an error is the one it gives.
 */
function dispatching(branches: readonly Branch[], union: Decoding): (body: unknown) => Decoded {
  return (body) => {
    const at = branches.findIndex((branch) => branch.looksLike(body))
    const branch = branches[at]
    if (branch !== undefined && (at === 0 || !holdsObjectLength(body))) {
      const decoded = branch.schema.safeParse(body)
      if (decoded.success) return decoded
    }
    return union.safeParse(body)
  }
}

/** Every provider's stream, as the array of its events. */
const streamBranches = providers.flatMap((provider) => (provider.payloads.streamed ?? []).map((shape) => decoding({ provider, shape })))
const streams = unionOf(streamBranches)
const decodeStream = dispatching(streamBranches, streams)

/** A stream handed over as the raw text it was (text/event-stream, application/x-ndjson): its events, then as above. */
const rawStream = z
  .string()
  .describe('The raw body of a streamed response: server-sent events (send it as text/event-stream) or NDJSON (as application/x-ndjson).')
  .transform((text, context): DecodedPayload => {
    let events: unknown[]
    try {
      events = parseEventStream(text)
    } catch {
      context.issues.push({ code: 'custom', message: 'an event of the stream is not valid JSON', input: text, path: [] })
      return z.NEVER
    }
    const decoded = decodeStream(events)
    if (decoded.success) return decoded.data
    // The events are not the body: the issue worth naming is picked here, against them.
    const { issue, path } = pickIssue(decoded.error.issues, events, [])
    const reached = 1 + reachInto(events, path)
    context.issues.push({ code: 'custom', message: issue.message, input: text, path: ['events', ...path], params: { reached } })
    return z.NEVER
  })

// Responses first: each has fields of its own, and most bodies are one.
const branches: Branch[] = [
  ...providers.map((provider) => decoding({ provider, shape: provider.payloads.response })),
  ...streamBranches,
  { schema: rawStream, looksLike: (body) => typeof body === 'string' },
  ...providers.flatMap((provider) => (provider.payloads.parts ?? []).map((shape) => decoding({ provider, shape }))),
]
const described = [
  ...providers.flatMap(({ payloads }) => [payloads.response, ...(payloads.parts ?? [])]),
  ...providers.flatMap(({ payloads }) => payloads.streamed ?? []),
].flatMap((shape) => (shape.described === undefined ? [] : [shape.described]))

/**
 * The body of POST /execute, decoded: which provider and shape it is follows from its fields. The
 * contract (the OpenAPI document's, the error's): every shape tried in order. `decodePayload` gives
 * the same answer faster.
 */
export const payloadSchema = unionOf(branches).describe(`${described.slice(0, -1).join(', ')}, or ${String(described.at(-1))}`)

/** `payloadSchema.safeParse(body)`, the same answer, by the shape the body's fields tell (see `PayloadShape.looksLike`). */
export const decodePayload: (body: unknown) => Decoded = dispatching(branches, payloadSchema)

/** Refuses a payload whose shape belongs to another provider than the one the client named. */
export function assertProvider(payload: DecodedPayload, expected: ProviderName): void {
  if (payload.provider.name !== expected) {
    // Both named as ?format= names them, in words that need no article (an "a" before "anthropic" would not do).
    throw new RequestError(
      'invalid_payload',
      `The body does not match ?format=${expected}: it has the shape ?format=${payload.provider.name} takes.`,
      {
        path: 'body',
      },
    )
  }
}

/**
 * Any provider's answer message, for the reply's schema. Strict: the reply is serialized through
 * this union, whose first matching branch would strip the fields of another provider's answer that
 * has the same ones and more (an Ollama answer with tool_call_id read as a Chat Completions one).
 */
export const toolMessageSchema = z.union(
  providers.map(({ answerSchema }) =>
    answerSchema instanceof z.ZodObject ? answerSchema.strict().describe(answerSchema.description ?? '') : answerSchema,
  ) as unknown as [z.ZodType<ToolMessage>, ...Array<z.ZodType<ToolMessage>>],
)

/** Any provider's `tools` parameter, for GET /tools' schema. */
export const declarationsSchema = z.union(
  providers.map((provider) => provider.declarationsSchema) as unknown as [z.ZodType, ...z.ZodType[]],
)

const declared = new WeakMap<readonly ToolDescription[], Map<ProviderName, unknown>>()

/** The tools as the `tools` parameter of a request to `name`; made once per set of tools and provider. */
export function declareTools(name: ProviderName, tools: readonly ToolDescription[]): unknown {
  let perProvider = declared.get(tools)
  if (perProvider === undefined) {
    perProvider = new Map()
    declared.set(tools, perProvider)
  }
  if (!perProvider.has(name)) perProvider.set(name, providerNamed(name).declare(tools))
  return perProvider.get(name)
}
