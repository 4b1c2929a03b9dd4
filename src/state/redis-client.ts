import { Redis } from 'ioredis'
import type { Logger } from '../observability/logger.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The process's one Redis client (TOOLGATE_REDIS_URL), shared by the state store and the rate
     * limits; undefined without TOOLGATE_REDIS_URL. Decorated by the 'toolgate-redis' plugin.
     */
    redis: Redis | undefined
  }
}

/** Longest pause between two reconnection attempts. */
const maxReconnectDelayMs = 2_000
/** How long one connection attempt may take (TCP and TLS) before it counts as failed and is retried. */
const connectTimeoutMs = 2_000
/**
 * How long a command may go unanswered on a connection that looks fine (a Redis that hangs, a
 * network that drops packets silently): it then fails, as it would on a Redis that is down, instead
 * of holding the request. Every command toolgate sends is short; none blocks on Redis's side.
 */
const commandTimeoutMs = 2_000
/** A connection error is logged at most this often, however often the client retries. */
const errorLogEveryMs = 10_000
/** How long closing waits for Redis to answer QUIT before it drops the connection. */
const quitTimeoutMs = 1_000
/** How long a dropped connection may take to close cleanly before its socket is destroyed. */
const disconnectTimeoutMs = 500

export interface RedisClientOptions {
  /**
   * TOOLGATE_REDIS_PREFIX, named in the client's log lines only. It is not ioredis's `keyPrefix`:
   * the state store and the rate limits write their keys with the prefix themselves.
   */
  prefix?: string
  /** Where connection failures (at most one line every 10 s) and recoveries are logged; nowhere without it. */
  log?: Logger
}

/**
 * A Redis client for a gateway: it connects at once (no lazyConnect), never queues a command while
 * disconnected (the caller gets an error at once and answers state_unavailable, or lets the request
 * through uncounted, instead of a request hanging on a Redis that is down), tries a command once
 * and gives it 2 s to be answered, and reconnects forever with a backoff capped at 2 s. It never emits an unhandled 'error': a
 * failure is logged (rate-limited) and the client keeps reconnecting; nothing crashes the process.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const log = options.log?.child({ redis: { prefix: options.prefix } })
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    disconnectTimeout: disconnectTimeoutMs,
    // Never gives up (a number, never null): a Redis back after an hour is used again at once.
    retryStrategy: (attempt) => Math.min(maxReconnectDelayMs, 50 * 2 ** Math.min(attempt, 10)),
  })
  let lastLogged = 0
  let failing = false
  // Without a listener an 'error' event would throw; the client reconnects by itself.
  client.on('error', (error: Error) => {
    failing = true
    const now = Date.now()
    if (now - lastLogged < errorLogEveryMs) return
    lastLogged = now
    log?.warn({ err: { message: error.message } }, 'Redis connection failed; retrying')
  })
  client.on('ready', () => {
    if (failing) log?.info('Redis connection is back')
    failing = false
    lastLogged = 0
  })
  return client
}

/** Whether the client can run a command now: connected and ready (anything else fails at once). */
export function redisUp(client: Redis): boolean {
  return client.status === 'ready'
}

/** Closes the client, dropping the connection if Redis does not answer QUIT within a second (its socket destroyed half a second later). */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect()
    return
  }
  const timer = setTimeout(() => {
    client.disconnect()
  }, quitTimeoutMs)
  try {
    await client.quit()
  } catch {
    client.disconnect()
  } finally {
    clearTimeout(timer)
  }
}
