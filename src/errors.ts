/**
 * Stable codes of a failed call. They reach the model in its tool message, so each says what the
 * model (or its operator) can do about it. The README's error table mirrors this one.
 */
export const callErrorCodes = {
  unknown_tool: 'The model called a tool that is not registered; the message lists the tools there are.',
  invalid_arguments:
    'The arguments are not a JSON object, are too large or too deep, carry a __proto__ or constructor key, or do not match the schema (the message names each path).',
  timeout: 'The call did not finish within its deadline (or an attempt within its own), retries included.',
  tool_error: 'The tool ran and failed; the message is what it reported.',
  cancelled: 'The caller went away or the gateway shut down before the call finished.',
  forbidden_tool: 'The tool exists, but the API key of the request may not call it; the message lists the tools it may call.',
  invalid_result: 'The tool returned a value that cannot be serialized as JSON (a cycle, a BigInt, a function).',
  internal_error: 'The gateway itself failed on this call; the other calls are unaffected.',
  pending:
    'The call is still running: the batch was answered at its Prefer: wait deadline. Its result will be at the Location the reply names (GET /executions/<id>).',
  outcome_unknown:
    'The call was running in a replica that died before recording how it ended: its effect may or may not have happened. It is not run again (its tool is not marked idempotent); check before retrying it.',
  state_unavailable: 'The shared state (Redis) failed while this keyed call was being recorded; it did not run.',
  awaiting_approval:
    "The call needs a human's approval and did not run; results[].approval holds the token to re-post it with a decision (see Approvals).",
  rejected_by_approver: "A human rejected the call; it did not run. The message gives the approver's reason.",
  approval_unavailable:
    'The call needs approval, which cannot be given: approvals are not enabled (TOOLGATE_APPROVAL_SECRETS is unset), or the call came by a route that carries no decisions; it did not run.',
  skipped:
    'A call before it in its ordering lane failed, and that tool stops its lane on failure: this call did not run. The message names the failed call, its tool and its error code.',
} as const satisfies Record<string, string>

export type CallErrorCode = keyof typeof callErrorCodes

/** A per-call failure. It becomes data in the reply, never an HTTP error. */
export class CallError extends Error {
  override name = 'CallError'
  readonly code: CallErrorCode
  /** Whether another attempt may succeed (a timed-out attempt, a failure the tool marked so). */
  readonly retryable: boolean
  /** The least wait before another attempt, when the upstream said (Retry-After). */
  readonly retryAfterMs: number | undefined

  constructor(code: CallErrorCode, message: string, options: { retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? false
    this.retryAfterMs = options.retryAfterMs
  }
}

/**
 * What a tool throws to report a failure in words meant for the model. Mark it `retryable` when
 * trying again may help (an upstream 503, a dropped connection).
 */
export class ToolError extends CallError {
  override name = 'ToolError'

  constructor(message: string, options: { retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super('tool_error', message, options)
  }
}

/** Stable codes of a request the gateway refuses as a whole, with their HTTP status. */
export const requestErrorCodes = {
  invalid_payload: { status: 400, description: 'The body is JSON but not a payload toolgate understands; `path` names the field.' },
  invalid_json: { status: 400, description: 'The body is not valid JSON, is empty, or carries a __proto__ key.' },
  invalid_query: { status: 400, description: 'A query parameter has a value outside its allowed set; `path` names it.' },
  duplicate_tool_call_id: { status: 400, description: 'Two calls in the payload share one id; `path` names the second.' },
  too_many_calls: { status: 400, description: 'The payload holds more calls than TOOLGATE_MAX_CALLS_PER_REQUEST.' },
  unauthorized: {
    status: 401,
    description: 'The route wants `Authorization: Bearer <key>`: one of TOOLGATE_API_KEYS, or TOOLGATE_ADMIN_KEY for the admin route.',
  },
  forbidden_origin: { status: 403, description: 'The request comes from a browser origin that is not in TOOLGATE_ALLOWED_ORIGINS.' },
  request_timeout: {
    status: 408,
    description:
      'The client sent its headers (TOOLGATE_HEADERS_TIMEOUT_MS) or its whole request (TOOLGATE_REQUEST_TIMEOUT_MS) too slowly; the connection is closed.',
  },
  headers_too_large: { status: 431, description: 'The request headers are larger than the server accepts (16 KiB).' },
  rate_limited: {
    status: 429,
    description:
      'The API key (or, without keys, the client address) made more requests this minute than its limit. Retry after `Retry-After` seconds.',
  },
  not_found: { status: 404, description: 'No such route.' },
  method_not_allowed: {
    status: 405,
    description: 'The path exists, but not with this method; the `Allow` header lists the methods it has.',
  },
  body_too_large: { status: 413, description: 'The body is larger than TOOLGATE_MAX_BODY_BYTES.' },
  unsupported_media_type: {
    status: 415,
    description: 'The body is neither application/json nor text/event-stream (a streamed completion).',
  },
  bad_request: { status: 400, description: 'The HTTP request itself is malformed.' },
  invalid_config: {
    status: 422,
    description: 'A reload found the configuration file or the keys file invalid; the tools and keys in service are unchanged.',
  },
  overloaded: {
    status: 503,
    description:
      'Too many abandoned calls (tools that ignored their timeout still running, past TOOLGATE_MAX_ABANDONED_CALLS), or the event loop or memory past its limit; nothing ran. Retry after `Retry-After` seconds.',
  },
  shutting_down: {
    status: 503,
    description: 'The gateway received SIGTERM: it finishes the batches in flight and takes no new work (/readyz answers this too).',
  },
  queue_full: {
    status: 503,
    description: 'Admitting the calls would exceed TOOLGATE_MAX_QUEUED_CALLS; nothing ran. Retry after `Retry-After` seconds.',
  },
  invalid_idempotency_key: {
    status: 400,
    description: 'The Idempotency-Key header is empty, longer than 255 characters, or holds characters other than printable ASCII.',
  },
  idempotency_key_reused: {
    status: 422,
    description: 'The Idempotency-Key was used before (by the same caller, within TOOLGATE_IDEMPOTENCY_TTL_SECONDS) with other calls.',
  },
  execution_in_progress: {
    status: 409,
    description:
      'The batch of this Idempotency-Key is still running and the request asked not to wait (Prefer: wait=0); retry after `Retry-After` seconds.',
  },
  execution_not_found: {
    status: 404,
    description: 'No batch with this id, or not one the caller started, or its record expired (TOOLGATE_IDEMPOTENCY_TTL_SECONDS).',
  },
  state_unavailable: {
    status: 503,
    description:
      'The shared state (TOOLGATE_REDIS_URL) is unreachable: a keyed or deferred batch is never run without its guarantee (nor, with TOOLGATE_REDIS_DOWN_POLICY=refuse, any batch). Retry after `Retry-After` seconds.',
  },
  approval_invalid: {
    status: 403,
    description:
      'An approval token is not one toolgate signed with a secret of TOOLGATE_APPROVAL_SECRETS (altered, malformed, or its secret retired), or approvals are not enabled; `path` names it.',
  },
  approval_expired: { status: 403, description: 'An approval token is past its expiry (TOOLGATE_APPROVAL_TTL_SECONDS); `path` names it.' },
  approval_wrong_caller: { status: 403, description: 'An approval token was issued to another caller (API key); `path` names it.' },
  approval_mismatch: {
    status: 403,
    description:
      'An approval token was issued for another call: no call of the payload has its call id, or that call has another tool or other arguments; `path` names it.',
  },
  approval_policy_changed: {
    status: 403,
    description: "The tool's approval policy changed since the token was issued (or it needs no approval now); `path` names the token.",
  },
  approval_replayed: {
    status: 409,
    description:
      'An approval token was used before: each decides one call once (with an Idempotency-Key, a retry replays the answer instead).',
  },
  internal_error: { status: 500, description: 'An unexpected failure; details are in the log, not in the reply.' },
} as const satisfies Record<string, { status: number; description: string }>

export type RequestErrorCode = keyof typeof requestErrorCodes

/** A request refused as a whole, answered with `{ error: { code, message, path? } }`. */
export class RequestError extends Error {
  override name = 'RequestError'
  readonly code: RequestErrorCode
  readonly statusCode: number
  /** The offending field, e.g. `body.choices[0].message.tool_calls[1].id`. */
  readonly path: string | undefined
  readonly retryAfterSeconds: number | undefined

  constructor(code: RequestErrorCode, message: string, options: { path?: string; retryAfterSeconds?: number } = {}) {
    super(message)
    this.code = code
    this.statusCode = requestErrorCodes[code].status
    this.path = options.path
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/** Describes anything thrown, without trusting it: a tool may throw a string, null or a hostile object. */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return thrown.message || `${thrown.name} without a message was thrown`
    switch (typeof thrown) {
      case 'string':
        return thrown === '' ? 'an empty string was thrown' : thrown
      case 'number':
      case 'boolean':
      case 'bigint':
        return `${String(thrown)} was thrown`
      case 'object': {
        if (thrown === null) return 'null was thrown'
        // JSON.stringify gives undefined for an object whose toJSON does.
        const json: unknown = JSON.stringify(thrown)
        return typeof json === 'string' ? json : 'an object was thrown'
      }
      case 'undefined':
        return 'undefined was thrown'
      default:
        return `a ${typeof thrown} was thrown`
    }
  } catch {
    return 'an unprintable value was thrown'
  }
}

/** `text` cut to `maxChars` characters, marked with an ellipsis when cut: for a model-chosen name in a message or a log. */
export function clipped(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text
}

/** What a wrapper error (fetch's "fetch failed", undici's "terminated") says underneath: its cause, if it has one. */
export function causeOf(error: unknown): unknown {
  return error instanceof Error && error.cause !== undefined ? error.cause : error
}

/**
 * A path into a document as its readers write it: `root` then `.key` and `[index]` segments,
 * e.g. `body.choices[0].message`; without a root, a leading key has no dot (`tools[1].name`).
 */
export function formatPath(path: readonly PropertyKey[], root = ''): string {
  let text = root
  for (const key of path) text += typeof key === 'number' ? `[${String(key)}]` : text === '' ? String(key) : `.${String(key)}`
  return text
}
