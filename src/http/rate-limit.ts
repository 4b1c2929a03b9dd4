import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ApiKey } from '../access/api-keys.ts'
import { RequestError } from '../errors.ts'

/** Probes and scrapes are never counted: an orchestrator must always see how the gateway is. */
const exempt = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * Requests per minute per API key (per client address when no keys are configured): a key's own
 * limit, else TOOLGATE_RATE_LIMIT_PER_MINUTE; 0 is no limit. Past it: 429 rate_limited with Retry-After.
 */
export async function addRateLimits(
  app: FastifyInstance,
  options: { rateLimitPerMinute: number; apiKeys: readonly ApiKey[]; apiKeysFile: string | undefined },
): Promise<void> {
  const limitOf = (request: FastifyRequest) => request.caller?.rateLimitPerMinute ?? options.rateLimitPerMinute
  // A keys file may give a key a limit at any reload; without one, nothing can ever be limited.
  if (options.rateLimitPerMinute === 0 && options.apiKeysFile === undefined && options.apiKeys.every((key) => !key.rateLimitPerMinute)) return
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    // Runs after access control, which names the caller.
    keyGenerator: (request) => (request.caller ? `key:${request.caller.name}` : `ip:${request.ip}`),
    max: (request) => limitOf(request),
    allowList: (request) => exempt.has(request.routeOptions.url ?? '') || limitOf(request) === 0,
    addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true },
    errorResponseBuilder: (request, context) =>
      new RequestError('rate_limited', `More than ${String(context.max)} requests in a minute from this ${request.caller ? 'API key' : 'client'}; retry after ${context.after}.`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  })
}
