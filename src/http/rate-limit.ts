import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import type { Config } from '../config/env.ts'
import { RequestError } from '../errors.ts'
import { redisUp } from '../state/redis-client.ts'
import { rulesOf } from './route-kinds.ts'

/**
 * One caller's count in a fixed window: INCR, and the window's expiry set by the first request
 * (again should a key have lost it, so that a count can never stay forever). Returns the count and
 * the milliseconds left in the window. Atomic, so replicas counting the same key never lose a request.
 */
const countScript = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`

type CountCommand = (key: string, windowMs: number) => Promise<[number, number]>

/**
 * @fastify/rate-limit's store on the shared Redis, keys `<TOOLGATE_REDIS_PREFIX>rate-limit:<caller>`.
 * While Redis is down (the client fails at once, it queues nothing), a count fails: with
 * TOOLGATE_REDIS_DOWN_POLICY=run the plugin lets the request through uncounted (skipOnError); with
 * refuse the failure is a 503 state_unavailable RequestError, which the plugin rethrows from its
 * hook to the error handler (a bare Redis error would be a 500 internal_error).
 */
function redisCounts(client: Redis, config: Pick<Config, 'redisPrefix' | 'redisDownPolicy'>): FastifyRateLimitStoreCtor {
  const nameSpace = `${config.redisPrefix}rate-limit:`
  if (!('toolgateRateLimit' in client)) client.defineCommand('toolgateRateLimit', { numberOfKeys: 1, lua: countScript })
  const count = (client as unknown as { toolgateRateLimit: CountCommand }).toolgateRateLimit.bind(client)
  const failure = (error: unknown): Error => {
    const cause = error instanceof Error ? error : new Error(String(error))
    if (config.redisDownPolicy === 'run') return cause
    return new RequestError(
      'state_unavailable',
      `The shared state (Redis) that counts rate limits is unreachable (${cause.message}); with TOOLGATE_REDIS_DOWN_POLICY=refuse nothing is served until it is back.`,
      { retryAfterSeconds: 1 },
    )
  }
  return class RedisCounts implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      if (!redisUp(client)) {
        callback(failure(new Error(`Redis is not reachable (${client.status})`)))
        return
      }
      count(`${nameSpace}${key}`, timeWindow).then(
        ([current, ttl]) => {
          callback(null, { current, ttl })
        },
        (error: unknown) => {
          callback(failure(error))
        },
      )
    }

    // Only for a route with its own `config.rateLimit`, which no toolgate route has: each caller has one count.
    child(): FastifyRateLimitStore {
      throw new Error("per-route rate limits are not supported: every route counts against its caller's one limit")
    }
  }
}

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
      // With TOOLGATE_REDIS_URL the counts are Redis's, shared: N replicas let a key's limit through,
      // not N times it. While Redis is down, TOOLGATE_REDIS_DOWN_POLICY decides: run lets requests
      // through uncounted, refuse answers them 503 state_unavailable (see redisCounts).
      ...(app.redis === undefined ? {} : { store: redisCounts(app.redis, app.config), skipOnError: app.config.redisDownPolicy === 'run' }),
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
