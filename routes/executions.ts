import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { executeReplySchema } from '../src/batch/format-reply.ts'
import { RequestError } from '../src/errors.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'

const executionsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/executions/:id',
    {
      schema: {
        summary: 'A batch answered before its end, or run under an Idempotency-Key, as far as it got',
        description:
          "The reply POST /execute gave or would give, in the payload's provider format: status pending (with the calls still running marked pending) until every call is answered, then final. Only the caller (API key) that started it can read it.",
        params: z.object({ id: z.string().max(64).describe('From the Location or Toolgate-Execution-Id header of the POST.') }),
        response: { 200: executeReplySchema, 401: errorReplySchema, 404: errorReplySchema, 503: errorReplySchema },
      },
    },
    async (request, reply) => {
      const answer = await app.executions.read(request.params.id, request.caller?.name ?? 'anonymous')
      if (answer === undefined) {
        throw new RequestError('execution_not_found', `No batch ${request.params.id} of this caller is on record (it may have expired).`, {
          path: 'params.id',
        })
      }
      reply.header('toolgate-execution-id', answer.execution.id)
      if (!answer.finished) reply.header('retry-after', '1')
      return answer.reply
    },
  )
  done()
}

export default executionsRoutes
