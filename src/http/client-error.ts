import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import { requestErrorCodes, type RequestErrorCode } from '../errors.ts'
import { noteRefusal, responseInFlight } from '../observability/access-log.ts'

/**
 * Answers what Node refuses before Fastify sees a request (a client too slow to send its headers
 * or body, oversized headers, unparsable HTTP) in toolgate's error shape, then closes the socket.
 */
export function createClientErrorHandler(limits: { headersTimeoutMs: number; requestTimeoutMs: number }) {
  return function clientErrorHandler(this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const [code, message]: [RequestErrorCode, string] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [
            'request_timeout',
            `The request was not received in time: headers within ${String(limits.headersTimeoutMs)} ms, the whole request within ${String(limits.requestTimeoutMs)} ms.`,
          ]
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? ['headers_too_large', 'The request headers are larger than the server accepts.']
          : ['bad_request', 'The HTTP request is malformed.']
    const status = requestErrorCodes[code].status
    const written = socket.writable
    // A request Fastify already took in (its body came too slowly, or not whole) has its access line say it.
    const inFlight = responseInFlight(socket)
    if (inFlight === undefined) this.log.info({ code, reason: error.code }, 'connection refused a request')
    else noteRefusal(inFlight, { code, reason: error.code, statusCode: written ? status : undefined })
    if (written) {
      const body = JSON.stringify({ error: { code, message } })
      socket.write(
        `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\nConnection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy()
  }
}
