import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorReplySchema } from '../src/http/error-reply.ts'

const metricsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/metrics',
    {
      config: { kind: 'metrics' },
      schema: {
        summary: 'Metrics in the Prometheus text format',
        description:
          'The series are listed in the README (Observability). Wants an API key when keys are configured, unless TOOLGATE_METRICS_WITHOUT_KEY is true.',
        response: {
          200: z.string().meta({ contentMediaType: app.metrics.registry.contentType }).describe('The Prometheus text exposition format'),
          401: errorReplySchema,
          403: errorReplySchema,
          503: errorReplySchema,
        },
      },
    },
    async (_request, reply) => {
      void reply.header('content-type', app.metrics.registry.contentType)
      return await app.metrics.registry.metrics()
    },
  )
  done()
}

export default metricsRoutes
