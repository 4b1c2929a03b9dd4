import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { RequestError } from '../errors.ts'

const openRoutes = new Set(['/healthz', '/readyz'])
const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * Who may call: with API keys configured, every route but the health checks wants one as a
 * bearer token, checked before the body is read, compared as digests in constant time against
 * every key (no early exit), every failure the same 401. A browser Origin not on the allowlist
 * gets 403, whatever the key.
 */
export function addAccessControl(app: FastifyInstance, options: { apiKeys: readonly string[]; allowedOrigins: readonly string[] }): void {
  const keys = options.apiKeys.map((key) => digest(`Bearer ${key}`))
  const origins = new Set(options.allowedOrigins)
  app.addHook('onRequest', (request, _reply, done) => {
    const origin = request.headers.origin
    if (origin !== undefined && !origins.has(origin)) {
      done(new RequestError('forbidden_origin', 'Requests from this browser origin are not allowed.'))
      return
    }
    if (keys.length === 0 || openRoutes.has(request.url.split('?')[0] ?? '') || request.url.startsWith('/admin/')) {
      done()
      return
    }
    const given = digest(request.headers.authorization ?? '')
    let allowed = false
    for (const key of keys) allowed = timingSafeEqual(given, key) || allowed
    done(allowed ? undefined : new RequestError('unauthorized', 'This route wants Authorization: Bearer <API key>.'))
  })
}
