import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { RequestError } from '../errors.ts'

/** Routes answered even under pressure: liveness must not restart a busy process, and metrics show why it is busy. */
const exempt = new Set(['/healthz', '/metrics'])

/**
 * Refuses work (503 overloaded, Retry-After) while the event loop lags or memory runs out, so a
 * saturated gateway says "not now" instead of timing every call out or dying of heap exhaustion.
 */
export async function addOverloadProtection(
  app: FastifyInstance,
  limits: { maxEventLoopDelayMs: number; maxHeapUsedPercent: number; maxRssBytes: number },
): Promise<void> {
  const retryAfterSeconds = 1
  await app.register(underPressure, {
    sampleInterval: 500,
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: Math.round((getHeapStatistics().heap_size_limit * limits.maxHeapUsedPercent) / 100),
    maxRssBytes: limits.maxRssBytes,
    pressureHandler: (request, _reply, type, value) => {
      if (exempt.has(request.routeOptions.url ?? '')) return undefined
      const measured = typeof value === 'number' ? ` (${type} ${String(Math.round(value))})` : ''
      return Promise.reject(
        new RequestError('overloaded', `The gateway is overloaded${measured}; nothing ran. Retry after ${String(retryAfterSeconds)} s.`, { retryAfterSeconds }),
      )
    },
  })
}
