import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { RequestError } from '../src/errors.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'

const healthRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/healthz',
    {
      config: { kind: 'liveness' },
      schema: { summary: 'Liveness: the process answers', response: { 200: z.object({ status: z.literal('ok') }) } },
    },
    () => ({ status: 'ok' as const }),
  )
  app.get(
    '/readyz',
    {
      config: { kind: 'readiness' },
      schema: {
        summary: 'Readiness: the gateway takes work (while closing, it answers 503)',
        response: {
          200: z.object({
            status: z.literal('ready'),
            tools: z.int(),
            calls: z.object({
              running: z.int(),
              waiting: z.int(),
              capacity: z.int(),
              abandoned: z.int().describe('Calls already answered whose tools ignored the abort and still run.'),
            }),
            mcp: z.array(z.object({ name: z.string(), connected: z.boolean() })).describe('The MCP servers of the configuration file.'),
            state: z
              .object({ store: z.enum(['memory', 'redis']), up: z.boolean() })
              .describe(
                'The state store of keyed and deferred batches. Redis down: keyed batches are refused, others follow TOOLGATE_REDIS_DOWN_POLICY (with refuse, this route answers 503 too).',
              ),
          }),
          503: errorReplySchema,
        },
      },
    },
    () => {
      const { store } = app.executions
      if (!store.up && app.config.redisDownPolicy === 'refuse') {
        throw new RequestError('state_unavailable', 'Redis (TOOLGATE_REDIS_URL) is unreachable, and TOOLGATE_REDIS_DOWN_POLICY=refuse.', {
          retryAfterSeconds: 1,
        })
      }
      return {
        status: 'ready' as const,
        tools: app.registry.size,
        calls: app.executor.stats,
        mcp: app.toolSources.mcpServers,
        state: { store: store.kind, up: store.up },
      }
    },
  )
  done()
}

export default healthRoutes
