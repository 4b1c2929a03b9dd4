import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api'
import type { BatchObserver } from '../batch/observer.ts'
import { clipped } from '../errors.ts'
import { maxLoggedIdChars, maxQuotedToolNameChars } from '../limits.ts'

/** A span per batch and per call, exported over OTLP/HTTP; absent (and never loaded) when tracing is off. */
export interface Tracing {
  /** Starts the batch's span as a child of the W3C trace context in `headers` (traceparent, tracestate). */
  startBatch(headers: Record<string, string | string[] | undefined>, attributes: Attributes): BatchSpan
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>
}

/**
 * The batch's span, watching the batch: a call's span starts when the call is taken up and ends
 * with its answer; the batch's ends with its status, or `refused` when it was refused whole.
 */
export type BatchSpan = Required<Pick<BatchObserver, 'callStarted' | 'callAnswered' | 'batchAnswered' | 'batchFailed'>>

/**
 * Turns tracing on when an OTLP endpoint is configured. The OpenTelemetry SDK is imported only
 * then, so a gateway without tracing neither loads it nor pays for a span.
 */
export async function startTracing(options: {
  endpoint: string | undefined
  serviceName: string
  version: string
}): Promise<Tracing | undefined> {
  if (options.endpoint === undefined) return undefined
  const [api, core, resources, sdk, exporter] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ])
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.version }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new exporter.OTLPTraceExporter({ url: `${options.endpoint.replace(/\/$/, '')}/v1/traces` }),
        scheduledDelayMillis: 1_000,
      }),
    ],
  })
  const tracer: Tracer = provider.getTracer('toolgate', options.version)
  const propagator = new core.W3CTraceContextPropagator()
  const getter = {
    keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
    get: (carrier: Record<string, unknown>, key: string) => carrier[key] as string | string[] | undefined,
  }
  return {
    startBatch(headers, attributes) {
      const parent: Context = propagator.extract(api.ROOT_CONTEXT, headers, getter)
      const batch: Span = tracer.startSpan('toolgate.execute', { kind: api.SpanKind.SERVER, attributes }, parent)
      const inBatch = api.trace.setSpan(parent, batch)
      const calls = new Map<number, Span>()
      const end = (status: string) => {
        batch.setAttribute('toolgate.batch.status', status)
        if (status === 'failed' || status === 'refused') batch.setStatus({ code: api.SpanStatusCode.ERROR, message: status })
        batch.end()
      }
      return {
        callStarted: (call, index) => {
          calls.set(
            index,
            tracer.startSpan(
              `toolgate.call ${clipped(call.name, maxQuotedToolNameChars)}`,
              {
                attributes: {
                  'gen_ai.tool.name': clipped(call.name, maxQuotedToolNameChars),
                  // The model writes ids too, as long as it likes: a span waits in the exporter's queue with it.
                  'gen_ai.tool.call.id': clipped(call.id, maxLoggedIdChars),
                },
              },
              inBatch,
            ),
          )
        },
        callAnswered: ({ result }, index) => {
          const span = calls.get(index)
          if (span === undefined) return
          calls.delete(index)
          span.setAttributes({
            'toolgate.call.outcome': result.error?.code ?? 'ok',
            'toolgate.call.attempts': result.attempts,
            'toolgate.call.queued_ms': result.queuedMs,
          })
          if (result.error) span.setStatus({ code: api.SpanStatusCode.ERROR, message: result.error.code })
          span.end()
        },
        batchAnswered: ({ status }) => {
          end(status)
        },
        batchFailed: () => {
          end('refused')
        },
      }
    },
    shutdown: () => provider.shutdown(),
  }
}
