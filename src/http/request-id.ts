import { randomUUID } from 'node:crypto'
import type { RawRequestDefaultExpression } from 'fastify'
import fp from 'fastify-plugin'

/** A client's x-request-id is kept when it is a sane token, so its logs and ours line up; else one is made. */
export function requestIdOf(request: RawRequestDefaultExpression): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
}

/** Sends the request id back on every reply, refusals and streams included: registered before every other hook. */
export const requestIdHeader = fp(
  (app, _options, done) => {
    app.addHook('onRequest', (request, reply, next) => {
      void reply.header('x-request-id', request.id)
      next()
    })
    done()
  },
  { name: 'toolgate-request-id', fastify: '5.x' },
)
