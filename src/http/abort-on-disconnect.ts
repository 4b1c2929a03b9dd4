import type { FastifyReply, FastifyRequest } from 'fastify'
import { CallError } from '../errors.ts'

/**
 * A signal aborted when the client goes away before its reply is written, so its queued and
 * running calls stop instead of working for nobody. Call `dispose` once the handler is done.
 */
export function abortOnDisconnect(request: FastifyRequest, reply: FastifyReply): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const onClose = () => {
    if (reply.raw.writableFinished) return
    // Its access line says so (aborted), and its calls' lines say cancelled.
    request.log.debug('client went away; cancelling its calls')
    controller.abort(new CallError('cancelled', 'the call was cancelled: the client disconnected before the reply'))
  }
  reply.raw.once('close', onClose)
  return { signal: controller.signal, dispose: () => reply.raw.off('close', onClose) }
}
