import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RequestError } from '../errors.ts'
import { rulesOf } from './route-kinds.ts'

/**
 * Requests per minute per API key (per client address when no keys are configured): a key's own
 * limit, else TOOLGATE_RATE_LIMIT_PER_MINUTE; 0 is no limit. Past it: 429 rate_limited with Retry-After.
 */
export const rateLimits = fp(
  async (app) => {
    const { rateLimitPerMinute, rateLimitTrackedCallers } = app.config
    const limitOf = (request: FastifyRequest) => request.caller?.rateLimitPerMinute ?? rateLimitPerMinute
    // A keys file may give a key a limit at any reload; without one, nothing can ever be limited.
    if (rateLimitPerMinute === 0 && !app.keyRing.mayLimitRates) return
    await app.register(rateLimit, {
      global: true,
      timeWindow: 60_000,
      // The counts are kept in an LRU of this many callers (keys, or addresses without keys), so that
      // clients from ever new addresses do not grow memory; one forgotten starts again from 0.
      cache: rateLimitTrackedCallers,
      // With TOOLGATE_REDIS_URL the counts are Redis's, so that N replicas let N times nothing more
      // through. While Redis is down requests are not counted (TOOLGATE_REDIS_DOWN_POLICY=refuse
      // refuses the batches themselves), rather than every request failing on its counter.
      ...(app.redis === undefined ? {} : { redis: app.redis, nameSpace: `${app.config.redisPrefix}rate-limit:`, skipOnError: true }),
      // Runs after access control, which names the caller.
      keyGenerator: (request) => (request.caller ? `key:${request.caller.name}` : `ip:${request.ip}`),
      max: (request) => limitOf(request),
      // Probes and scrapes are never counted: an orchestrator must always see how the gateway is.
      allowList: (request) => !rulesOf(request).rateLimited || limitOf(request) === 0,
      addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true },
      errorResponseBuilder: (request, context) =>
        new RequestError(
          'rate_limited',
          `More than ${String(context.max)} requests in a minute from this ${request.caller ? 'API key' : 'client'}; retry after ${context.after}.`,
          {
            retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
          },
        ),
    })
  },
  // After access control, which names the caller the limit is counted for.
  {
    name: 'toolgate-rate-limits',
    fastify: '5.x',
    dependencies: ['toolgate-config', 'toolgate-redis', 'toolgate-key-ring', 'toolgate-access-control'],
  },
)
