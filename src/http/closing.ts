import type { FastifyInstance } from 'fastify'
import { RequestError } from '../errors.ts'

/**
 * What closing looks like from outside. Once closing (SIGTERM, or app.close()), readiness turns
 * false and new work is refused in toolgate's own shape, on connections already open too, while
 * the batches in flight finish; liveness stays up. Every reply then asks its client to close the
 * connection: a keep-alive connection would otherwise hold the exit back until its idle timeout.
 * Returns the switch that starts it before app.close() does.
 */
export function addClosingBehaviour(app: FastifyInstance): () => void {
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onRequest', (request, _reply, done) => {
    if (!closing || request.routeOptions.url === '/healthz') {
      done()
      return
    }
    done(new RequestError('shutting_down', 'The gateway is shutting down and takes no new work; retry on another instance.', { retryAfterSeconds: 1 }))
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })
  return () => {
    closing = true
  }
}
