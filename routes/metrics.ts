import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'

const metricsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/metrics',
    { config: { kind: 'metrics' }, schema: { summary: 'Metrics in the Prometheus text format', hide: true } },
    async (_request, reply) => {
      void reply.header('content-type', app.metrics.registry.contentType)
      return await app.metrics.registry.metrics()
    },
  )
  done()
}

export default metricsRoutes
