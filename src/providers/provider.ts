import { z } from 'zod'
import type { AnsweredCall } from '../batch/call-result.ts'
import type { ToolDescription } from '../tools/tool.ts'

/** One tool call as the model wrote it, before anything is checked but its id and name. */
export interface RawToolCall {
  id: string
  name: string
  /** The model's JSON string, or an object a client already parsed. Checked per call, later. */
  arguments: unknown
  /** Where the call sits in the body, e.g. `choices[0].message.tool_calls[2]`. */
  path: string
  /** The payload carried no id for this call (Gemini, Ollama): toolgate made `id` up, and must not send it back. */
  assignedId?: true
}

/** What one of a provider's payload shapes decodes to: which shape it was, and the calls to run. */
export interface PayloadCalls {
  /** The shape's name, for logs and tests: `chat.completion`, `conversation`, `anthropic`... */
  shape: string
  calls: RawToolCall[]
}

type PayloadSchema = z.ZodType<PayloadCalls>

/** One way a provider's calls reach toolgate, how the body schema tells it, and how an error names it. */
export interface PayloadShape {
  schema: PayloadSchema
  /**
   * A cheap test of the fields that tell this shape from the others (`object`, `type`, the array
   * of chunks...), true of every body `schema` accepts: a necessary condition, never a guess. The
   * body schema parses a body with the first shape, in its order, whose test the body passes, and
   * tries every shape (for the error about the body) only when none does or that one refuses it.
   */
  looksLike: (body: unknown) => boolean
  /**
   * The shape in words, for an error about a body of no known shape ("an Anthropic Messages API
   * response"); absent when another shape's words cover it.
   */
  described?: string
}

/**
 * Everything toolgate knows of one provider, in one module: the payload shapes it accepts (each a
 * zod schema decoding to the calls), the answers it wants back, and how it declares tools. The
 * list in `index.ts` builds the body schema, the `format` enums and the reply schemas from these.
 */
export interface Provider<Name extends string = string, Message = unknown, Declarations = unknown> {
  /** As `?format=` names it. */
  name: Name
  /**
   * The shapes it accepts, each decoding to its calls. A body is tried against every provider's
   * response first (each has fields of its own), then their streams, then the looser parts.
   */
  payloads: {
    /** The response its API returns. */
    response: PayloadShape
    /** Its streamed response, as chunks or as the raw event stream. */
    streamed?: readonly PayloadShape[]
    /** What else carries its calls: one message, a conversation. */
    parts?: readonly PayloadShape[]
  }
  /** One of its answer messages, for the reply's schema. */
  answerSchema: z.ZodType<Message>
  /** The answers as the provider expects them next, linked to the calls by its own ids. */
  answers: (calls: readonly AnsweredCall[]) => Message[]
  /** Its `tools` request parameter, for GET /tools' schema. */
  declarationsSchema: z.ZodType<Declarations>
  /** The tools as its `tools` request parameter. */
  declare: (tools: readonly ToolDescription[]) => Declarations
}

/** A provider definition, typed by its own parts. */
export function defineProvider<Name extends string, Message, Declarations>(
  provider: Provider<Name, Message, Declarations>,
): Provider<Name, Message, Declarations> {
  return provider
}

/** A JSON object: what a z.object accepts (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A tool's arguments as its declaration carries them. */
export const jsonSchemaObject = z.record(z.string(), z.unknown()).describe('JSON Schema of the arguments.')
