import type { FastifyBaseLogger, FastifyHttpOptions } from 'fastify'
import type { Server } from 'node:http'
import type { Config } from '../config/env.ts'
import { connectionsCheckIntervalMs } from '../limits.ts'
import { AccessLog } from '../observability/access-log.ts'
import { createClientErrorHandler } from './client-error.ts'
import { createErrorHandler } from './error-handler.ts'
import { requestIdOf } from './request-id.ts'

/** The HTTP server's own settings: body size, the slow-client timeouts, request ids, request logging, closing. */
export function serverOptions(
  config: Config,
  logger: FastifyBaseLogger,
): FastifyHttpOptions<Server> & { loggerInstance: FastifyBaseLogger } {
  const refuse = createErrorHandler(config)
  return {
    loggerInstance: logger,
    // One access line per request (access-log.ts) instead of Fastify's two.
    logController: new AccessLog(),
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
    // A URL that cannot be decoded (`/%zz`) meets no hook: it is answered in toolgate's shape, with
    // its request id, and logged like any request, instead of Fastify's own unlogged 400.
    frameworkErrors: (error, request, reply) => {
      void reply.header('x-request-id', request.id)
      void refuse(error, request, reply)
    },
    requestIdHeader: false,
    genReqId: requestIdOf,
  }
}
