import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import { RequestError } from '../errors.ts'
import { pressureSampleIntervalMs, refusalRetryAfterSeconds } from '../limits.ts'
import { rulesOf } from './route-kinds.ts'

/**
 * Refuses work (503 overloaded, Retry-After) while the event loop lags or memory runs out, so a
 * saturated gateway says "not now" instead of timing every call out or dying of heap exhaustion.
 */
export const overloadProtection = fp(
  async (app) => {
    const limits = app.config
    await app.register(underPressure, {
      sampleInterval: pressureSampleIntervalMs,
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      maxHeapUsedBytes: Math.round((getHeapStatistics().heap_size_limit * limits.maxHeapUsedPercent) / 100),
      maxRssBytes: limits.maxRssBytes,
      pressureHandler: (request, _reply, type, value) => {
        if (rulesOf(request).answeredUnderPressure) return undefined
        const measured = typeof value === 'number' ? ` (${type} ${String(Math.round(value))})` : ''
        return Promise.reject(
          new RequestError(
            'overloaded',
            `The gateway is overloaded${measured}; nothing ran. Retry after ${String(refusalRetryAfterSeconds)} s.`,
            {
              retryAfterSeconds: refusalRetryAfterSeconds,
            },
          ),
        )
      },
    })
  },
  { name: 'toolgate-overload-protection', fastify: '5.x', dependencies: ['toolgate-config'] },
)
