import type { FastifyReply } from 'fastify'
import type { BatchResult, ExecutedCall } from '../batch/executor.ts'
import { formatReply, toolMessages, type ExecuteReply, type ToolMessage } from '../batch/reply.ts'
import type { PayloadFormat } from '../providers/payload.ts'

export type StreamKind = 'ndjson' | 'sse'

/** Which streaming form the client asked for in `Accept`, if any. */
export function streamKindFor(accept: string | undefined): StreamKind | undefined {
  if (accept === undefined) return undefined
  if (accept.includes('application/x-ndjson')) return 'ndjson'
  if (accept.includes('text/event-stream')) return 'sse'
  return undefined
}

/**
 * Answers a batch as a stream: one `answer` event per call as soon as it finishes (already in the
 * payload's provider format, with its position in the batch), then a `done` event with the status,
 * the aggregated errors and the timing. Nothing is written before the batch is admitted, so a
 * refusal (400, 503) is still an ordinary JSON reply.
 */
export async function streamAnswers(
  reply: FastifyReply,
  kind: StreamKind,
  format: PayloadFormat,
  run: (onAnswer: (call: ExecutedCall, index: number) => void) => Promise<BatchResult>,
): Promise<ExecuteReply<ToolMessage>['status']> {
  let started = false
  const write = (event: 'answer' | 'done', data: object) => {
    if (!started) {
      started = true
      reply.hijack()
      reply.raw.writeHead(200, {
        'content-type': kind === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream',
        'cache-control': 'no-store',
        'x-request-id': reply.request.id,
      })
    }
    if (reply.raw.writableEnded || reply.raw.destroyed) return
    const json = JSON.stringify({ event, ...data })
    reply.raw.write(kind === 'ndjson' ? `${json}\n` : `event: ${event}\ndata: ${json}\n\n`)
  }
  const batch = await run((call, index) => {
    write('answer', { index, result: call.result, messages: toolMessages([call], format) })
  })
  const { status, errors, timing } = formatReply(batch, format)
  write('done', { status, errors, timing })
  reply.raw.end()
  return status
}
