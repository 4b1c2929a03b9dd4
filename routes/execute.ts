import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { executeReplySchema, validateReplySchema } from '../src/batch/format-reply.ts'
import { takeDecisions } from '../src/approvals/approvals.ts'
import { runBatch } from '../src/batch/run-batch.ts'
import { RequestError } from '../src/errors.ts'
import { idempotencyKeyOf, preferencesOf } from '../src/executions/request-headers.ts'
import { abortOnDisconnect } from '../src/http/abort-on-disconnect.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'
import { observeBatch } from '../src/http/observe-batch.ts'
import { streamKindFor } from '../src/http/stream-reply.ts'
import { payloadSchema, providerNames } from '../src/providers/index.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The `approvals` field of a POST /execute body, taken out before the payload schema reads it. */
    approvalDecisions: unknown
  }
}

const executeRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  // A field of every request's own, where a WeakMap keyed by the request cost an entry per request (about 1.5 µs under load).
  app.decorateRequest('approvalDecisions', undefined)
  app.post(
    '/execute',
    {
      schema: {
        summary: "Run a model response's tool calls",
        description:
          "Runs every tool call of the payload (in parallel by default) and answers one tool message per call, in the calls' order, with the model's ids. HTTP 200 whenever the payload was understood, even if every call failed. With Accept: application/x-ndjson (or text/event-stream) the answers stream one event per call as each finishes, then a done event. A call that needs a human's approval is answered awaiting_approval with results[].approval.token; re-post it with a top-level body field approvals: [{ token, decision: approve | reject, reason?, arguments? }] beside the provider's own fields (see the README's Approvals).",
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
        headers: z.looseObject({
          'idempotency-key': z
            .string()
            .optional()
            .describe(
              'Runs each call at most once across retries (and replicas sharing Redis): a retry with the same key and calls gets the recorded answers (Idempotent-Replayed: true), or joins the batch still running. Scoped to the API key; kept TOOLGATE_IDEMPOTENCY_TTL_SECONDS. A client that disconnects does not cancel a keyed batch.',
            ),
          prefer: z
            .string()
            .optional()
            .describe(
              'wait=<seconds>: answer by then with the calls still running marked pending, and Location: /executions/<id> for the rest. respond-async: 202 at once, with Location.',
            ),
        }),
        body: payloadSchema,
        response: {
          200: z.union([executeReplySchema, validateReplySchema]),
          202: executeReplySchema.describe(
            'Prefer: respond-async: the batch runs; every call is pending here, and GET Location answers it.',
          ),
          400: errorReplySchema,
          401: errorReplySchema,
          403: errorReplySchema,
          408: errorReplySchema,
          409: errorReplySchema,
          413: errorReplySchema,
          415: errorReplySchema,
          422: errorReplySchema,
          429: errorReplySchema,
          503: errorReplySchema,
        },
      },
      // A full gateway refuses before reading the body: under overload, parsing bodies only to
      // refuse them would eat the CPU the admitted batches need.
      onRequest: (request, _reply, next) => {
        next((request.query as { mode?: string }).mode === 'validate' ? undefined : app.executor.shedding())
      },
      // The decisions are no provider's field: taken out before the payload schema reads the body.
      preValidation: (request, _reply, next) => {
        request.approvalDecisions = takeDecisions(request.body)
        next()
      },
    },
    async (request, reply) => {
      const { mode, format } = request.query
      const stream = mode === 'validate' ? undefined : streamKindFor(request.headers.accept)
      const key = idempotencyKeyOf(request.headers['idempotency-key'])
      const prefer = preferencesOf(request.headers.prefer)
      const approvals =
        mode === 'validate'
          ? undefined
          : app.approvals.forRequest({
              caller: request.caller?.name ?? 'anonymous',
              keyApproves: request.caller?.approve,
              decisions: request.approvalDecisions,
              calls: request.body.calls,
            })
      if (mode !== 'validate' && (key !== undefined || prefer.respondAsync || prefer.waitSeconds !== undefined)) {
        if (stream !== undefined) {
          throw new RequestError(
            'bad_request',
            'A batch with Idempotency-Key or Prefer: wait / respond-async is answered as JSON (so that it can be replayed and read later); ask without Accept: application/x-ndjson or text/event-stream.',
            { path: 'headers.accept' },
          )
        }
        const maxWaitMs = app.config.maxWaitSeconds * 1000
        const waitMs = prefer.respondAsync
          ? 0
          : Math.min(maxWaitMs, prefer.waitSeconds === undefined ? maxWaitMs : prefer.waitSeconds * 1000)
        const answer = await app.executions.run({
          payload: request.body,
          format,
          mode,
          owner: request.caller?.name ?? 'anonymous',
          key,
          waitMs,
          allowedTools: request.caller?.tools,
          log: request.log,
          observer: observeBatch(app, request, reply, request.body, undefined),
          approvals,
        })
        reply.header('toolgate-execution-id', answer.execution.id)
        if (answer.replayed) reply.header('idempotent-replayed', 'true')
        if (prefer.respondAsync) reply.header('preference-applied', 'respond-async')
        else if (prefer.waitSeconds !== undefined) reply.header('preference-applied', `wait=${String(Math.round(waitMs / 1000))}`)
        if (!answer.finished) {
          reply.header('location', `/executions/${answer.execution.id}`)
          if (prefer.respondAsync) reply.code(202)
        }
        return answer.reply
      }
      if (mode !== 'validate' && app.config.redisDownPolicy === 'refuse' && !app.executions.store.up) {
        throw new RequestError(
          'state_unavailable',
          'Redis (TOOLGATE_REDIS_URL) is unreachable, and TOOLGATE_REDIS_DOWN_POLICY=refuse: nothing ran.',
          {
            retryAfterSeconds: 1,
          },
        )
      }
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
          approvals,
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
