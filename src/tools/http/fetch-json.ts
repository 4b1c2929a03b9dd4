import secureJson from 'secure-json-parse'
import type { z } from 'zod'
import { causeOf, describeThrown, ToolError } from '../../errors.ts'
import { maxQuotedLocationChars, maxUpstreamResponseBytes } from '../../limits.ts'

/**
 * GETs a JSON document and checks it against `schema`. Failures are ToolErrors in words for the
 * model: unreachable, 429 and 5xx are retryable; other 4xx, oversized or unexpected bodies are not.
 */
export async function fetchJson<Schema extends z.ZodType>(
  service: string,
  url: URL,
  schema: Schema,
  signal: AbortSignal,
): Promise<z.output<Schema>> {
  let response: Response
  try {
    response = await fetch(url, { signal, redirect: 'manual', headers: { accept: 'application/json' } })
  } catch (error) {
    // fetch's own message is just "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND…).
    throw new ToolError(`${service} is unreachable: ${describeThrown(causeOf(error))}`, { retryable: true, cause: error })
  }
  if (response.status === 429 || response.status >= 500) {
    await response.body?.cancel()
    throw new ToolError(`${service} is unavailable (HTTP ${String(response.status)})`, { retryable: true })
  }
  await refuseRedirect(service, response)
  const text = await readText(service, response)
  let body: unknown
  try {
    body = secureJson.parse(text)
  } catch {
    throw new ToolError(`${service} answered HTTP ${String(response.status)} with a body that is not JSON`)
  }
  if (!response.ok) {
    const reason = typeof body === 'object' && body !== null && 'reason' in body ? `: ${String(body.reason)}` : ''
    throw new ToolError(`${service} refused the request (HTTP ${String(response.status)})${reason}`)
  }
  const parsed = schema.safeParse(body)
  if (!parsed.success) throw new ToolError(`${service} answered data in an unexpected shape`)
  return parsed.data
}

/**
 * Redirects are not followed: the configured URL is the only host a call may reach, and a
 * redirect would carry the arguments and the configured headers (secrets) elsewhere.
 */
export async function refuseRedirect(service: string, response: Response): Promise<void> {
  if (response.status < 300 || response.status >= 400) return
  await response.body?.cancel()
  const location = response.headers.get('location')
  const where = location === null ? '' : ` to ${location.slice(0, maxQuotedLocationChars)}`
  throw new ToolError(
    `${service} answered a redirect (HTTP ${String(response.status)})${where}; toolgate does not follow redirects, so the tool's URL must be the final one`,
  )
}

/** The body as text, refusing to hold more than `maxBytes` whatever Content-Length claims. */
export async function readText(service: string, response: Response, maxBytes = maxUpstreamResponseBytes): Promise<string> {
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength
      if (size > maxBytes) {
        // Leaving the loop by a throw cancels the stream.
        throw new ToolError(`${service} answered more than ${String(maxBytes)} bytes`)
      }
      chunks.push(chunk)
    }
  } catch (error) {
    if (error instanceof ToolError || (error instanceof Error && error.name === 'AbortError')) throw error
    // undici says only "terminated"; its cause says why (the socket closed, was reset...).
    throw new ToolError(`${service} dropped the connection while sending its answer: ${describeThrown(causeOf(error))}`, {
      retryable: true,
      cause: error,
    })
  }
  return Buffer.concat(chunks).toString('utf8')
}
