import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { closeRedisClient, createRedisClient } from '../../state/redis-client.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis of TOOLGATE_REDIS_URL, shared by the state store and the rate limits; undefined without one. */
    redis: Redis | undefined
  }
}

/**
 * One Redis client for the process, when TOOLGATE_REDIS_URL is set. Start-up does not wait for
 * it: a gateway whose Redis is down starts, refuses what needs Redis, and serves the rest.
 */
export const redisPlugin = fp(
  (app, _options, done) => {
    const { redisUrl } = app.config
    const client = redisUrl === undefined ? undefined : createRedisClient(redisUrl, app.log)
    app.decorate('redis', client)
    if (client !== undefined) {
      app.addHook('onClose', async () => {
        await closeRedisClient(client)
      })
    }
    done()
  },
  { name: 'toolgate-redis', fastify: '5.x', dependencies: ['toolgate-config'] },
)
