import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RequestError } from '../errors.ts'
import { noteRefusal } from '../observability/access-log.ts'

/**
 * The one place a refused request gets its reply: `{ error: { code, message, path? } }` with a
 * stable code. Nothing of the input and no stack trace is echoed; 5xx details go to the log only.
 */
export function createErrorHandler(limits: { maxBodyBytes: number }) {
  return function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const failure = toRequestError(error, limits)
    // Only a failure of the gateway itself is an error with a stack. A refusal is the gateway
    // working as meant (503 under overload among them): one short line, or thousands of stacks a
    // second would be logged exactly when the CPU is scarcest.
    if (failure.code === 'internal_error') request.log.error({ err: error }, 'request failed')
    // The request's access line (access-log.ts) carries the code: a refusal takes no line of its own.
    noteRefusal(reply.raw, { code: failure.code, path: failure.path })
    if (failure.retryAfterSeconds !== undefined) void reply.header('retry-after', String(failure.retryAfterSeconds))
    const body = { code: failure.code, message: failure.message, ...(failure.path === undefined ? {} : { path: failure.path }) }
    return reply.code(failure.statusCode).send({ error: body })
  }
}

/**
 * A request no route takes: 405 with `Allow` when its path has routes for other methods (GET
 * /execute), else 404. It comes after the same hooks a 404 does (access control among them).
 */
export function notFound(request: FastifyRequest, reply: FastifyReply) {
  const allowed = methodsOf(request.server, request.url)
  if (allowed.length > 0) {
    noteRefusal(reply.raw, { code: 'method_not_allowed' })
    void reply.header('allow', allowed.join(', '))
    return reply.code(405).send({
      error: { code: 'method_not_allowed', message: `This path does not take this method; it takes ${allowed.join(', ')}.` },
    })
  }
  noteRefusal(reply.raw, { code: 'not_found' })
  return reply.code(404).send({ error: { code: 'not_found', message: 'No such route; see GET /openapi.json.' } })
}

/** The methods some route takes at `url`, matched as the router matches a request (HEAD where GET is). */
function methodsOf(app: FastifyInstance, url: string): string[] {
  return app.supportedMethods.filter((method) => {
    // Typed as always found; it is null when no route matches.
    const found: unknown = app.findRoute({ method, url })
    return found !== null
  })
}

function toRequestError(error: FastifyError, limits: { maxBodyBytes: number }): RequestError {
  if (error instanceof RequestError) return error
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RequestError('body_too_large', `The body is larger than the limit of ${String(limits.maxBodyBytes)} bytes.`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RequestError(
        'unsupported_media_type',
        'Send the body as application/json (or a streamed completion as text/event-stream).',
      )
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new RequestError('invalid_json', 'The body is empty; send a JSON payload.')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new RequestError('invalid_json', 'The body is not valid JSON, or it carries a __proto__ or constructor.prototype key.')
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) return new RequestError('bad_request', `The request is malformed (${error.code}).`)
  return new RequestError('internal_error', 'The gateway failed on this request; the details are in its log.')
}
