import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { composeObservers, type BatchObserver } from '../batch/observer.ts'
import { callLog } from '../observability/call-log.ts'
import type { DecodedPayload } from '../providers/index.ts'
import { streamReply, type StreamKind } from './stream-reply.ts'

/** What watches a batch run for a request: the call log, the metrics, its trace, and its streamed reply if it asked for one. */
export function observeBatch(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: DecodedPayload,
  stream: StreamKind | undefined,
): BatchObserver {
  return composeObservers(
    callLog(request.log),
    app.metrics,
    app.tracing?.startBatch(request.headers, { 'toolgate.batch.calls': payload.calls.length, 'toolgate.request_id': request.id }),
    stream === undefined ? undefined : streamReply(reply, stream, payload.provider),
  )
}
