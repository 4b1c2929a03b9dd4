import { createHash } from 'node:crypto'
import secureJson from 'secure-json-parse'
import { causeOf, describeThrown, ToolError } from '../../errors.ts'
import { maxQuotedBodyChars } from '../../limits.ts'
import { handOver } from '../content.ts'
import type { ToolContext } from '../tool.ts'
import { readText, refuseRedirect } from './fetch-json.ts'

/** One request of a tool to its HTTP service; the URL and headers are final (built from the validated arguments). */
export interface HttpRequest {
  method: string
  url: URL
  /** Sent first: the headers toolgate sets itself (call id, idempotency key, content negotiation) win over them. */
  headers: Array<[name: string, value: string]>
  /** JSON text, sent as application/json. */
  body?: string | undefined
}

export interface HttpCaller {
  /** The tool's name: the idempotency key derived when the batch had none is made from it. */
  toolName: string
  /** Names the service in the messages the model reads, e.g. "lookup_order's endpoint". */
  service: string
  /** Whether a retryable failure (unreachable, 429, 5xx, a dropped answer) may be retried: the call is idempotent. */
  repeatable: boolean
  /** Strikes the secrets out of a message. */
  redact: (text: string) => string
}

/**
 * Sends one attempt of an HTTP tool's call and reads the answer: the path every HTTP-backed tool
 * shares. The call id and an idempotency key travel in headers (the call's own key when the batch
 * came with an Idempotency-Key, otherwise one derived from the tool's name and the call id);
 * redirects are refused, the answer is read within maxUpstreamResponseBytes, and a 2xx answer is
 * parsed as JSON or passed through as text/plain (an empty 204/205, or a HEAD's, is null). Every
 * failure is a ToolError with the secrets struck out, retryable only when the caller is repeatable.
 */
export async function callHttp(
  caller: HttpCaller,
  request: HttpRequest,
  { callId, signal, idempotencyKey }: ToolContext,
): Promise<unknown> {
  const { service, redact } = caller
  const fail = (message: string, options: { retryable?: boolean; retryAfterMs?: number } = {}) =>
    new ToolError(redact(message), { ...options, retryable: caller.repeatable && options.retryable === true })
  let headers: Headers
  try {
    headers = new Headers(request.headers)
  } catch (error) {
    throw fail(`the call to ${service} has a header that cannot be sent: ${describeThrown(error)}`)
  }
  if (request.body !== undefined) headers.set('content-type', 'application/json')
  headers.set('accept', 'application/json, text/plain')
  headers.set('x-toolgate-call-id', callId)
  headers.set(
    'idempotency-key',
    idempotencyKey ?? createHash('sha256').update(`${caller.toolName}\n${callId}`).digest('base64url').slice(0, 32),
  )
  let response: Response
  try {
    response = await fetch(request.url, { method: request.method, signal, redirect: 'manual', headers, body: request.body ?? null })
  } catch (error) {
    throw fail(`${service} is unreachable: ${describeThrown(causeOf(error))}`, { retryable: true })
  }
  if (response.status === 429 || response.status >= 500) {
    await response.body?.cancel()
    throw fail(`${service} answered HTTP ${String(response.status)}`, { retryable: true, retryAfterMs: retryAfterMs(response) })
  }
  await refuseRedirect(service, response).catch((error: unknown) => {
    throw fail(describeThrown(error))
  })
  const text = await readText(service, response).catch((error: unknown) => {
    throw fail(describeThrown(error), { retryable: error instanceof ToolError && error.retryable })
  })
  if (!response.ok) throw fail(`${service} refused the call (HTTP ${String(response.status)}): ${text.slice(0, maxQuotedBodyChars)}`)
  if (text === '' && (response.status === 204 || response.status === 205 || request.method === 'HEAD')) return null
  const type = response.headers.get('content-type') ?? ''
  if (type.startsWith('text/plain')) return text
  if (!/^application\/([\w.+-]+\+)?json/.test(type)) throw fail(`${service} answered with content type "${type}", not JSON or text/plain`)
  try {
    // Parsed here from the body, and kept by nothing else: the gateway need not copy it.
    return handOver(secureJson.parse(text))
  } catch {
    throw fail(`${service} answered a body that is not valid JSON`)
  }
}

/** Retry-After in milliseconds (seconds or an HTTP date), if the response gave one. */
function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get('retry-after')
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
