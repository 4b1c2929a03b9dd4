import type { FastifyInstance } from 'fastify'

/** Bodies are JSON, or a streamed Chat Completions response handed over as the raw event stream it was. */
export function acceptContentTypes(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('text/event-stream', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body)
  })
}
