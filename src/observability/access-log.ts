import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import { clipped } from '../errors.ts'
import { maxLoggedUrlChars } from '../limits.ts'
import { logsAt, type Logger } from './logger.ts'

/** Why a request was refused, as its access line tells it. */
export interface Refusal {
  code: string
  path?: string | undefined
  /** Node's error code, for a request refused at the connection (a client too slow, malformed HTTP). */
  reason?: string | undefined
  /** The status written to the socket itself, for a request refused at the connection. */
  statusCode?: number | undefined
}

/** The refusals of the responses still open; an entry goes with its response. */
const refusals = new WeakMap<ServerResponse, Refusal>()
/** The response each connection is answering, while its access line is not written. */
const answering = new WeakMap<Socket, ServerResponse>()

/** Tells the access line of `response` why its request was refused; the first reason given stands. */
export function noteRefusal(response: ServerResponse, refusal: Refusal): void {
  if (!refusals.has(response)) refusals.set(response, refusal)
}

/** The response whose access line is still to be written on `socket`, if a request on it was taken in. */
export function responseInFlight(socket: Socket): ServerResponse | undefined {
  return answering.get(socket)
}

/**
 * Fastify's request logging, replaced: instead of "incoming request" and "request completed"
 * lines, one line per request, written when its response is finished or its connection closed
 * before that (a client that went away), so that each request is logged once: its id, method, URL,
 * route, status, time, caller (the key's name), address, and why it was refused if it was.
 * "incoming request" stays, at debug level. Fastify's other lines (a failing serializer, a stream
 * that errored) are kept.
 */
export class AccessLog extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    // Above info no access line is written (nor "incoming request"), and a refusal has none to go in.
    const log = request.log as FastifyBaseLogger & Pick<Logger, 'isLevelEnabled'>
    if (!logsAt(log, 'info')) return
    const started = performance.now()
    const response = reply.raw
    const socket = request.raw.socket
    // Read now: Node no longer knows the peer of a socket closed before it was asked.
    const remoteAddress = request.ip
    const remotePort = socket.remotePort
    answering.set(socket, response)
    // Its fields are made only when the line is written: at info and above this runs on every request for nothing.
    if (logsAt(log, 'debug')) {
      request.log.debug({ method: request.method, url: clipped(request.url, maxLoggedUrlChars) }, 'incoming request')
    }
    // 'close' comes once for every response: after 'finish', or when the connection closed first.
    response.once('close', () => {
      if (answering.get(socket) === response) answering.delete(socket)
      const refusal = refusals.get(response)
      const finished = response.writableFinished
      const statusCode = finished || response.headersSent ? response.statusCode : refusal?.statusCode
      const line: Record<string, unknown> = {
        method: request.method,
        url: clipped(request.url, maxLoggedUrlChars),
        route: request.routeOptions.url ?? null,
        statusCode,
        responseTimeMs: Math.round((performance.now() - started) * 100) / 100,
        remoteAddress,
        remotePort,
      }
      if (refusal !== undefined) {
        line.code = refusal.code
        if (refusal.path !== undefined) line.path = clipped(refusal.path, maxLoggedUrlChars)
        if (refusal.reason !== undefined) line.reason = refusal.reason
      }
      if (!finished && refusal?.statusCode === undefined) line.aborted = true
      // request.log, not reply.log: access control gives it the caller's key name.
      request.log.info(line, 'request completed')
    })
  }

  /** Written by the 'close' listener of incomingRequest instead. */
  override requestCompleted(): void {
    // nothing: see incomingRequest
  }
}
