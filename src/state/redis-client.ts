import { Redis } from 'ioredis'
import type { Logger } from '../observability/logger.ts'

/** Longest pause between two reconnection attempts. */
const maxReconnectDelayMs = 2_000
/** A connection error is logged at most this often, however often the client retries. */
const errorLogEveryMs = 10_000

/**
 * A Redis client for a gateway: it never queues a command while disconnected (the caller gets an
 * error at once and answers state_unavailable, instead of a request hanging on a Redis that is
 * down), tries a command once, and reconnects forever with a capped backoff.
 */
export function createRedisClient(url: string, log: Logger): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(maxReconnectDelayMs, 50 * 2 ** Math.min(attempt, 10)),
  })
  let lastLogged = 0
  // Without a listener an 'error' event would throw; the client reconnects by itself.
  client.on('error', (error: Error) => {
    const now = Date.now()
    if (now - lastLogged < errorLogEveryMs) return
    lastLogged = now
    log.warn({ err: { message: error.message } }, 'Redis connection failed; retrying')
  })
  client.on('ready', () => {
    if (lastLogged !== 0) log.info('Redis connection is back')
    lastLogged = 0
  })
  return client
}

/** Closes the client, dropping the connection if Redis does not answer QUIT soon. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect()
    return
  }
  const timer = setTimeout(() => {
    client.disconnect()
  }, 1_000)
  try {
    await client.quit()
  } catch {
    client.disconnect()
  } finally {
    clearTimeout(timer)
  }
}
