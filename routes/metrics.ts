import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'

export const metricsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get('/metrics', { schema: { summary: 'Metrics in the Prometheus text format', hide: true } }, async (_request, reply) => {
    void reply.header('content-type', app.metrics.registry.contentType)
    return await app.metrics.registry.metrics()
  })
  done()
}
