import fp from 'fastify-plugin'
import { RequestError } from '../errors.ts'
import { refusalRetryAfterSeconds } from '../limits.ts'
import { rulesOf } from './route-kinds.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Turns readiness false and refuses new work (503 shutting_down); app.close() does it too. */
    stopTakingWork: () => void
  }
}

/**
 * What closing looks like from outside. Once closing (SIGTERM, or app.close()), readiness turns
 * false and new work is refused in toolgate's own shape, on connections already open too, while
 * the batches in flight finish; liveness stays up. Every reply then asks its client to close the
 * connection: a keep-alive connection would otherwise hold the exit back until its idle timeout.
 * `app.stopTakingWork()` starts it before app.close() does.
 */
export const closingBehaviour = fp(
  (app, _options, done) => {
    let closing = false
    app.addHook('preClose', (done) => {
      closing = true
      done()
    })
    app.addHook('onRequest', (request, _reply, done) => {
      if (!closing || rulesOf(request).answeredWhileClosing) {
        done()
        return
      }
      done(
        new RequestError('shutting_down', 'The gateway is shutting down and takes no new work; retry on another instance.', {
          retryAfterSeconds: refusalRetryAfterSeconds,
        }),
      )
    })
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (closing) void reply.header('connection', 'close')
      done(null, payload)
    })
    app.decorate('stopTakingWork', () => {
      closing = true
    })
    done()
  },
  { name: 'toolgate-closing', fastify: '5.x' },
)
