import type { FastifyReply } from 'fastify'
import type { BatchObserver } from '../batch/observer.ts'
import type { AnyProvider } from '../providers/index.ts'

export type StreamKind = 'ndjson' | 'sse'

/** Which streaming form the client asked for in `Accept`, if any. */
export function streamKindFor(accept: string | undefined): StreamKind | undefined {
  if (accept === undefined) return undefined
  if (accept.includes('application/x-ndjson')) return 'ndjson'
  if (accept.includes('text/event-stream')) return 'sse'
  return undefined
}

/**
 * Answers a batch as a stream, by watching it: one `answer` event per call as soon as it finishes
 * (already in the payload's provider format, with its position in the batch), then a `done` event
 * with the status, the aggregated errors and the timing. Nothing is written before the first
 * answer, which comes only once the batch is admitted: a refusal (400, 503) is still an ordinary
 * JSON reply.
 */
export function streamReply(reply: FastifyReply, kind: StreamKind, provider: AnyProvider): BatchObserver {
  let started = false
  const write = (event: 'answer' | 'done', data: object) => {
    if (!started) {
      started = true
      reply.hijack()
      // The headers the hooks set (x-request-id, rate limits) go too: a hijacked reply skips onSend.
      const set = Object.entries(reply.getHeaders()).filter(
        (entry): entry is [string, string | number | string[]] => entry[1] !== undefined,
      )
      reply.raw.writeHead(200, {
        ...Object.fromEntries(set),
        'content-type': kind === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream',
        'cache-control': 'no-store',
      })
    }
    if (reply.raw.writableEnded || reply.raw.destroyed) return
    const json = JSON.stringify({ event, ...data })
    reply.raw.write(kind === 'ndjson' ? `${json}\n` : `event: ${event}\ndata: ${json}\n\n`)
  }
  return {
    callAnswered: (call, index) => {
      write('answer', { index, result: call.result, messages: provider.answers([call]) })
    },
    batchAnswered: (summary) => {
      write('done', summary)
      reply.raw.end()
    },
  }
}
