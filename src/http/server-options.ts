import type { FastifyBaseLogger, FastifyHttpOptions } from 'fastify'
import type { Server } from 'node:http'
import type { Config } from '../config/env.ts'
import { connectionsCheckIntervalMs } from '../limits.ts'
import { createClientErrorHandler } from './client-error.ts'
import { requestIdOf } from './request-id.ts'

/** The HTTP server's own settings: body size, the slow-client timeouts, request ids, closing. */
export function serverOptions(
  config: Config,
  logger: FastifyBaseLogger,
): FastifyHttpOptions<Server> & { loggerInstance: FastifyBaseLogger } {
  return {
    loggerInstance: logger,
    // Closing is answered in toolgate's shape (closing.ts), not Fastify's.
    return503OnClosing: false,
    bodyLimit: config.maxBodyBytes,
    // Node's defaults leave slow clients alone: no request timeout, and the timeouts it has are
    // only checked every 30 s. A client dripping its headers or body is cut within a second of its
    // limit. The idle time while the calls run is not limited: that is the calls' deadlines' job.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(connectionsCheckIntervalMs, config.headersTimeoutMs),
    },
    clientErrorHandler: createClientErrorHandler(config),
    requestIdHeader: false,
    genReqId: requestIdOf,
  }
}
