import type { FastifyReply, FastifyRequest } from 'fastify'

/** Headers that describe the body Fastify has already read and parsed; the web Request carries none. */
const bodyHeaders = new Set(['content-length', 'transfer-encoding'])

/**
 * The request as a web-standard Request without its body (Fastify parsed it; the handler takes it
 * parsed), whose signal aborts when the client's connection closes before its answer is written.
 */
export function toWebRequest(request: FastifyRequest, reply: FastifyReply): Request {
  const controller = new AbortController()
  // Only a client gone before the answer ended cancels: an abort costs an AbortError (and the SDK's
  // own error after it), which a finished exchange need not pay.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort()
  })
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || bodyHeaders.has(name)) continue
    for (const each of Array.isArray(value) ? value : [value]) headers.append(name, each)
  }
  return new Request(new URL(request.url, 'http://toolgate.invalid'), { method: request.method, headers, signal: controller.signal })
}
