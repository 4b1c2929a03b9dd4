import fp from 'fastify-plugin'
import { closeRedisClient, createRedisClient } from '../../state/redis-client.ts'

/**
 * One Redis client for the process, when TOOLGATE_REDIS_URL is set, as `app.redis` (undefined
 * otherwise; the declaration is in state/redis-client.ts). Start-up does not wait for it: a gateway
 * whose Redis is down starts, refuses what needs Redis, and serves the rest. Closed last of what
 * uses it (onClose runs in the reverse order of registration), QUIT bounded to a second.
 */
export const redisPlugin = fp(
  (app, _options, done) => {
    const { redisUrl, redisPrefix } = app.config
    const client = redisUrl === undefined ? undefined : createRedisClient(redisUrl, { prefix: redisPrefix, log: app.log })
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
