import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { extractCalls } from '../src/batch/check-batch.ts'
import { executeReplySchema, formatReply, formatVerdicts, validateReplySchema } from '../src/batch/reply.ts'
import { abortOnDisconnect } from '../src/http/abort-on-disconnect.ts'
import { streamAnswers, streamKindFor } from '../src/http/stream-reply.ts'
import { assertProvider, executePayloadSchema, providerFormats } from '../src/providers/payload.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'

export const executeRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.post(
    '/execute',
    {
      schema: {
        summary: "Run a model response's tool calls",
        description:
          "Runs every tool call of the payload (in parallel by default) and answers one tool message per call, in the calls' order, with the model's ids. HTTP 200 whenever the payload was understood, even if every call failed. With Accept: application/x-ndjson (or text/event-stream) the answers stream one event per call as each finishes, then a done event.",
        querystring: z.object({
          mode: z
            .enum(['parallel', 'sequential', 'validate'])
            .default('parallel')
            .describe(
              'sequential runs the same calls one at a time, to compare on the same gateway; validate checks every call (tool, arguments) and runs none.',
            ),
          format: z
            .enum(providerFormats)
            .optional()
            .describe("The provider the payload must come from; by default it is told by the payload's shape."),
        }),
        body: executePayloadSchema,
        response: { 200: z.union([executeReplySchema, validateReplySchema]), 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 408: errorReplySchema, 413: errorReplySchema, 415: errorReplySchema, 429: errorReplySchema, 503: errorReplySchema },
      },
      // A full gateway refuses before reading the body: under overload, parsing bodies only to
      // refuse them would eat the CPU the admitted batches need.
      onRequest: (request, _reply, done) => {
        done((request.query as { mode?: string }).mode === 'validate' ? undefined : app.executor.refusal(1))
      },
    },
    async (request, reply) => {
      const { mode, format } = request.query
      if (format !== undefined) assertProvider(request.body, format)
      const calls = extractCalls(request.body, app.config.maxCallsPerRequest)
      const allowedTools = request.caller?.tools
      if (mode === 'validate') return formatVerdicts(app.executor.validate(calls, allowedTools))
      const disconnect = abortOnDisconnect(request, reply)
      const span = app.tracing?.startBatch(request.headers, { 'toolgate.batch.calls': calls.length, 'toolgate.request_id': request.id })
      let status = 'refused'
      try {
        const options = { mode, signal: disconnect.signal, log: request.log, allowedTools, traceCall: span?.startCall }
        const stream = streamKindFor(request.headers.accept)
        if (stream === undefined) {
          const answered = formatReply(await app.executor.execute(calls, options), request.body.format)
          status = answered.status
          app.metrics.batchAnswered(status)
          return answered
        }
        status = await streamAnswers(reply, stream, request.body.format, (onAnswer) => app.executor.execute(calls, { ...options, onAnswer }))
        app.metrics.batchAnswered(status)
        return undefined
      } finally {
        disconnect.dispose()
        span?.end(status)
      }
    },
  )
  done()
}
