import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'

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
          }),
        },
      },
    },
    () => ({ status: 'ready' as const, tools: app.registry.size, calls: app.executor.stats, mcp: app.toolSources.mcpServers }),
  )
  done()
}

export default healthRoutes
