import fp from 'fastify-plugin'
import { Executions } from '../../executions/executions.ts'
import { MemoryStore } from '../../state/memory-store.ts'
import { RedisStore } from '../../state/redis-store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Keyed and deferred batches, recorded in the state store (Redis when configured, else memory). */
    executions: Executions
  }
}

/**
 * The state store and the executions recorded in it. With TOOLGATE_REDIS_URL the store is the
 * shared Redis (the client of the redis plugin); otherwise memory, bounded by the state settings.
 */
export const executionsPlugin = fp(
  (app, _options, done) => {
    const { config } = app
    const ttlMs = config.idempotencyTtlSeconds * 1000
    const { redis } = app
    const store =
      redis === undefined
        ? new MemoryStore({ maxEntries: config.stateMaxEntries, maxBytes: config.stateMaxBytes, ttlMs })
        : new RedisStore(redis, { prefix: config.redisPrefix, ttlMs })
    const executions = new Executions(app.executor, store, { leaseMs: config.replicaLeaseMs, log: app.log })
    app.decorate('executions', executions)
    app.metrics.watchStateStore(() => store.up, store.kind)
    app.addHook('onReady', (next) => {
      executions.start()
      // The first renewal may come before the connection; a Redis back from away holds no lease of ours.
      redis?.on('ready', () => {
        executions.renewLease()
      })
      next()
    })
    // Before the executor cancels what is left (onClose runs in the reverse order of registration).
    app.addHook('onClose', async () => {
      await executions.stop()
      await store.close()
    })
    done()
  },
  {
    name: 'toolgate-executions',
    fastify: '5.x',
    dependencies: ['toolgate-config', 'toolgate-redis', 'toolgate-executor', 'toolgate-observability'],
  },
)
