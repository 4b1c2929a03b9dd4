import fp from 'fastify-plugin'
import packageJson from '../../../package.json' with { type: 'json' }
import { Metrics } from '../../observability/metrics.ts'
import { startTracing, type Tracing } from '../../observability/tracing.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** What GET /metrics exposes; it observes every batch and counts every reply. */
    metrics: Metrics
    /** Spans for batches and calls, when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
    tracing: Tracing | undefined
  }
}

/** Metrics (reading the executor's gauges when scraped) and, when configured, tracing. */
export const observabilityPlugin = fp(
  async (app) => {
    const { config } = app
    // Read when scraped: the executor is registered after this plugin, so that this plugin's
    // onClose (exporting the last spans) runs after the executor's (cancelling the calls left).
    app.decorate('metrics', new Metrics(() => app.executor.stats))
    app.decorate(
      'tracing',
      await startTracing({ endpoint: config.otlpEndpoint, serviceName: config.serviceName, version: packageJson.version }),
    )
    app.addHook('onResponse', (request, reply, done) => {
      app.metrics.httpAnswered(request.routeOptions.url ?? 'unmatched', reply.statusCode)
      done()
    })
    app.addHook('onClose', async () => {
      await app.tracing?.shutdown()
    })
  },
  { name: 'toolgate-observability', fastify: '5.x', dependencies: ['toolgate-config'] },
)
