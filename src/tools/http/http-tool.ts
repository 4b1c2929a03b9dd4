import { createHash } from 'node:crypto'
import secureJson from 'secure-json-parse'
import { z } from 'zod'
import { redactor } from '../../config/secrets.ts'
import type { HttpToolConfig } from '../../config/tools-file.ts'
import { causeOf, describeThrown, ToolError } from '../../errors.ts'
import { handOver } from '../content.ts'
import type { Tool } from '../tool.ts'
import { readText, refuseRedirect } from './fetch-json.ts'
import { maxQuotedBodyChars } from '../../limits.ts'

/**
 * A tool behind an HTTP endpoint, declared in the configuration file: the arguments, validated
 * against the declared JSON Schema, are POSTed as JSON to the configured URL (nothing the model
 * writes decides the host). The call id and an idempotency key travel in headers: the call's own
 * key (`context.idempotencyKey`, the same on every attempt and every retry of a keyed batch) when
 * the batch came with an Idempotency-Key, otherwise one derived from the tool's name and the call
 * id. `idempotent` and `readOnly` (which implies it) land on the tool; only such a tool's upstream
 * failures are retryable. `secrets` (values that came from the environment) are struck out of
 * every error message.
 */
export function createHttpTool(config: HttpToolConfig, secrets: readonly string[] = []): Tool {
  const { name, description, parameters, http, idempotent, readOnly, ...limits } = config
  const service = `${name}'s endpoint`
  const redact = redactor(secrets)
  const repeatable = idempotent || readOnly
  const fail = (message: string, options: { retryable?: boolean; retryAfterMs?: number } = {}) =>
    new ToolError(redact(message), { ...options, retryable: repeatable && options.retryable === true })
  return {
    name,
    description,
    parameters,
    inputSchema: z.fromJSONSchema(parameters),
    ...limits,
    idempotent: repeatable,
    readOnly,
    async execute(args, { callId, signal, idempotencyKey }) {
      let response: Response
      try {
        response = await fetch(http.url, {
          method: 'POST',
          signal,
          redirect: 'manual',
          headers: {
            ...http.headers,
            'content-type': 'application/json',
            accept: 'application/json, text/plain',
            'x-toolgate-call-id': callId,
            'idempotency-key': idempotencyKey ?? createHash('sha256').update(`${name}\n${callId}`).digest('base64url').slice(0, 32),
          },
          body: JSON.stringify(args),
        })
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
      const type = response.headers.get('content-type') ?? ''
      if (type.startsWith('text/plain')) return text
      if (!/^application\/([\w.+-]+\+)?json/.test(type))
        throw fail(`${service} answered with content type "${type}", not JSON or text/plain`)
      try {
        // Parsed here from the body, and kept by nothing else: the gateway need not copy it.
        return handOver(secureJson.parse(text))
      } catch {
        throw fail(`${service} answered a body that is not valid JSON`)
      }
    },
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
