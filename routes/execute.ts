import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { executeReplySchema, validateReplySchema } from '../src/batch/format-reply.ts'
import { runBatch } from '../src/batch/run-batch.ts'
import { abortOnDisconnect } from '../src/http/abort-on-disconnect.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'
import { observeBatch } from '../src/http/observe-batch.ts'
import { streamKindFor } from '../src/http/stream-reply.ts'
import { payloadSchema, providerNames } from '../src/providers/index.ts'

const executeRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
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
            .enum(providerNames)
            .optional()
            .describe("The provider the payload must come from; by default it is told by the payload's shape."),
        }),
        body: payloadSchema,
        response: {
          200: z.union([executeReplySchema, validateReplySchema]),
          400: errorReplySchema,
          401: errorReplySchema,
          403: errorReplySchema,
          408: errorReplySchema,
          413: errorReplySchema,
          415: errorReplySchema,
          429: errorReplySchema,
          503: errorReplySchema,
        },
      },
      // A full gateway refuses before reading the body: under overload, parsing bodies only to
      // refuse them would eat the CPU the admitted batches need.
      onRequest: (request, _reply, next) => {
        next((request.query as { mode?: string }).mode === 'validate' ? undefined : app.executor.shedding())
      },
    },
    async (request, reply) => {
      const { mode, format } = request.query
      const stream = mode === 'validate' ? undefined : streamKindFor(request.headers.accept)
      const disconnect = abortOnDisconnect(request, reply)
      try {
        const answer = await runBatch(app.executor, {
          payload: request.body,
          format,
          mode,
          allowedTools: request.caller?.tools,
          signal: disconnect.signal,
          log: request.log,
          observer: mode === 'validate' ? undefined : observeBatch(app, request, reply, request.body, stream),
        })
        // A streamed reply has been written by its observer.
        return stream === undefined ? answer : undefined
      } finally {
        disconnect.dispose()
      }
    },
  )
  done()
}

export default executeRoutes
