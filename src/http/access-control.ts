import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { ApiKey, Caller } from '../access/api-keys.ts'
import { RequestError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key the request came with; null when no keys are configured (or on an open route). */
    caller: Caller | null
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * Who may call: with API keys configured, every route but the health checks wants one as a
 * bearer token, checked before the body is read, compared as digests in constant time against
 * every key (no early exit), every failure the same 401. The key found becomes `request.caller`,
 * logged by its name. A browser Origin not on the allowlist gets 403, whatever the key.
 * Returns the function that puts other keys in force (a reload).
 */
export function addAccessControl(
  app: FastifyInstance,
  options: { apiKeys: readonly ApiKey[]; allowedOrigins: readonly string[]; metricsWithoutKey: boolean },
): (apiKeys: readonly ApiKey[]) => void {
  const openRoutes = new Set(['/healthz', '/readyz', ...(options.metricsWithoutKey ? ['/metrics'] : [])])
  const keysOf = (apiKeys: readonly ApiKey[]) =>
    apiKeys.map((apiKey) => ({ digest: digest(`Bearer ${apiKey.key}`), caller: { name: apiKey.name, tools: apiKey.tools, rateLimitPerMinute: apiKey.rateLimitPerMinute } }))
  let keys = keysOf(options.apiKeys)
  const origins = new Set(options.allowedOrigins)
  app.decorateRequest('caller', null)
  app.addHook('onRequest', (request, _reply, done) => {
    const origin = request.headers.origin
    if (origin !== undefined && !origins.has(origin)) {
      done(new RequestError('forbidden_origin', 'Requests from this browser origin are not allowed.'))
      return
    }
    const route = request.routeOptions.url ?? ''
    if (keys.length === 0 || openRoutes.has(route) || route.startsWith('/admin/')) {
      done()
      return
    }
    const given = digest(request.headers.authorization ?? '')
    let caller: Caller | null = null
    for (const key of keys) {
      if (timingSafeEqual(given, key.digest)) caller ??= key.caller
    }
    if (caller === null) {
      done(new RequestError('unauthorized', 'This route wants Authorization: Bearer <API key>.'))
      return
    }
    request.caller = caller
    request.log = request.log.child({ caller: caller.name })
    done()
  })
  return (apiKeys) => {
    keys = keysOf(apiKeys)
  }
}
