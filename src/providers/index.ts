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
const decoding = ({ provider, shape }: Shaped) => shape.schema.transform((decoded): DecodedPayload => ({ provider, ...decoded }))
const unionOf = (schemas: Array<z.ZodType<DecodedPayload>>) =>
  z.union(schemas as unknown as [z.ZodType<DecodedPayload>, ...Array<z.ZodType<DecodedPayload>>])

/** Every provider's stream, as the array of its events. */
const streams = unionOf(providers.flatMap((provider) => (provider.payloads.streamed ?? []).map((shape) => decoding({ provider, shape }))))

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
    const decoded = streams.safeParse(events)
    if (decoded.success) return decoded.data
    // The events are not the body: the issue worth naming is picked here, against them.
    const { issue, path } = pickIssue(decoded.error.issues, events, [])
    const reached = 1 + reachInto(events, path)
    context.issues.push({ code: 'custom', message: issue.message, input: text, path: ['events', ...path], params: { reached } })
    return z.NEVER
  })

// Responses first: each has fields of its own, and most bodies are one.
const shapes = [
  ...providers.map((provider) => decoding({ provider, shape: provider.payloads.response })),
  ...providers.flatMap((provider) => (provider.payloads.streamed ?? []).map((shape) => decoding({ provider, shape }))),
  rawStream,
  ...providers.flatMap((provider) => (provider.payloads.parts ?? []).map((shape) => decoding({ provider, shape }))),
]
const described = [
  ...providers.flatMap(({ payloads }) => [payloads.response, ...(payloads.parts ?? [])]),
  ...providers.flatMap(({ payloads }) => payloads.streamed ?? []),
].flatMap((shape) => (shape.described === undefined ? [] : [shape.described]))

/** The body of POST /execute, decoded: which provider and shape it is follows from its fields. */
export const payloadSchema = unionOf(shapes).describe(`${described.slice(0, -1).join(', ')}, or ${String(described.at(-1))}`)

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
