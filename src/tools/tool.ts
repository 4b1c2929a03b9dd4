import type { Logger } from '../observability/logger.ts'
import type { z } from 'zod'

/** What a tool receives besides its arguments. */
export interface ToolContext {
  /** Aborted at the call's deadline, at an attempt's timeout, or when the caller goes away. */
  signal: AbortSignal
  /** A child logger carrying the request id, the tool's name and the call id. */
  log: Logger
  /** The model's tool_call_id. */
  callId: string
  /** 1 on the first attempt, 2 on the first retry, and so on. */
  attempt: number
  /**
   * Set when the batch came with an Idempotency-Key: a key of this call's own, the same on every
   * retry of the batch, for a tool (or its upstream) that de-duplicates. HTTP tools send it as
   * `Idempotency-Key`, MCP tools in `_meta`.
   */
  idempotencyKey?: string | undefined
}

/**
 * A tool, defined once: its zod schema validates the model's arguments, types `execute`, and
 * becomes the JSON Schema the model sees in `GET /tools`.
 */
export interface Tool<Input extends z.ZodType = z.ZodType, Output = unknown> {
  /** 1 to 64 letters, digits, `_` or `-`, as the providers require. */
  name: string
  description: string
  inputSchema: Input
  /** The JSON Schema models are shown, when it was written by hand rather than derived from `inputSchema`. */
  parameters?: Record<string, unknown>
  /** Runs one attempt. Throw a ToolError (optionally `retryable`) to tell the model what failed. */
  execute(args: z.output<Input>, context: ToolContext): Promise<Output> | Output
  /** Deadline of the whole call, retries and backoff included. @default TOOLGATE_CALL_TIMEOUT_MS */
  timeoutMs?: number
  /**
   * Deadline of one attempt; a timed-out attempt is retried if time and retries remain and the tool
   * is idempotent or readOnly (it may have taken effect). @default timeoutMs
   */
  attemptTimeoutMs?: number
  /** Further attempts after a retryable failure. @default 0 */
  retries?: number
  /** Calls of this tool running at once, across all requests. @default unlimited (the server-wide bound applies) */
  concurrency?: number
  /**
   * Running it twice with the same arguments has the effect of running it once. A keyed call of
   * such a tool that was running in a replica that died runs again on retry; any other is answered
   * outcome_unknown. @default false
   */
  idempotent?: boolean
  /** It changes nothing (a lookup); implies idempotent. @default false */
  readOnly?: boolean
  /** It may destroy or overwrite something (a delete, an overwrite, a payment); never with readOnly. @default false */
  destructive?: boolean
  /**
   * `required`: every call waits for a human's approval (see src/approvals/); `never`: none does,
   * even if the tool is destructive. @default destructive tools need approval when approvals are enabled
   */
  approval?: 'required' | 'never'
  /**
   * The lane its calls run in: calls of one batch whose lane keys are equal (whatever their tools)
   * run one after another, in the model's order; the others stay parallel. A string is the key's
   * template (see lane.ts): `"file:{path}"` takes `path` from the validated arguments; without a
   * placeholder every call of the tool shares one lane.
   */
  lane?: string | LaneDeclaration<z.output<Input>>
}

export interface LaneDeclaration<Args = unknown> {
  /** A template (`"file:{path}"`), or the key computed from the validated arguments (undefined: no lane for this call). */
  key: string | LaneKeyFunction<Args>
  /** A failure of this tool's call stops the lane: its later calls in the batch are answered `skipped`. @default false */
  stopOnFailure?: boolean
}

// A method's parameter is bivariant: a tool of specific arguments is still a Tool.
type LaneKeyFunction<Args> = { key(args: Args): string | undefined }['key']

/** What a tool declares of its effects, as the defaults read them: readOnly implies idempotent, and excludes destructive. */
export interface SideEffects {
  readOnly: boolean
  idempotent: boolean
  destructive: boolean
}

export function sideEffectsOf(tool: Tool): SideEffects {
  const readOnly = tool.readOnly === true
  return { readOnly, idempotent: readOnly || tool.idempotent === true, destructive: tool.destructive === true }
}

/** Identity function that lets TypeScript infer `execute`'s argument type from the schema. */
export function defineTool<Input extends z.ZodType, Output>(tool: Tool<Input, Output>): Tool<Input, Output> {
  return tool
}

/** What every provider's declaration of a tool is made from: its name, description and JSON Schema of its arguments. */
export interface ToolDescription {
  name: string
  description: string
  parameters: Record<string, unknown>
}

/** A tool that cannot be served as defined (a bad name, a name taken twice, a bad limit or schema). */
export class ToolDefinitionError extends Error {
  override name = 'ToolDefinitionError'
  readonly code = 'invalid_tool_definition'
}
