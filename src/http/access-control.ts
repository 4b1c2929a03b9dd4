import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Caller } from '../access/api-keys.ts'
import { RequestError } from '../errors.ts'
import { rulesOf } from './route-kinds.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key the request came with; null when no keys are configured (or on an open route). */
    caller: Caller | null
  }
}

/**
 * Adds the caller's name to the request's logger. Fastify made it for this request alone: pino's
 * setBindings adds it in place, where a child of that child would cost some 10 µs more per request
 * (a new prototype in the chain, and every line through it slower).
 */
function nameCaller(request: FastifyRequest, name: string): void {
  const log = request.log as FastifyBaseLogger & { setBindings?: (bindings: Record<string, unknown>) => void }
  if (typeof log.setBindings === 'function') log.setBindings({ caller: name })
  else request.log = log.child({ caller: name })
}

/**
 * Who may call: with API keys configured, the routes that want one (see route-kinds) take it as a
 * bearer token, checked before the body is read, every failure the same 401. The key found becomes
 * `request.caller`, logged by its name. A browser Origin not on the allowlist gets 403, whatever the key.
 */
export const accessControl = fp(
  (app, _options, done) => {
    const { keyRing: keys, config } = app
    const origins = new Set(config.allowedOrigins)
    app.decorateRequest('caller', null)
    app.addHook('onRequest', (request, _reply, done) => {
      const origin = request.headers.origin
      if (origin !== undefined && !origins.has(origin)) {
        done(new RequestError('forbidden_origin', 'Requests from this browser origin are not allowed.'))
        return
      }
      // Without keys no route wants one: the route's rules (a new object from Fastify each time) are not asked.
      if (keys.open) {
        done()
        return
      }
      const { apiKey } = rulesOf(request)
      if (apiKey === 'none' || (apiKey === 'unless TOOLGATE_METRICS_WITHOUT_KEY' && config.metricsWithoutKey)) {
        done()
        return
      }
      const caller = keys.callerOf(request.headers.authorization)
      if (caller === null) {
        done(new RequestError('unauthorized', 'This route wants Authorization: Bearer <API key>.'))
        return
      }
      request.caller = caller
      nameCaller(request, caller.name)
      done()
    })
    done()
  },
  { name: 'toolgate-access-control', fastify: '5.x', dependencies: ['toolgate-config', 'toolgate-key-ring'] },
)
