import type { FastifyInstance } from 'fastify'

/** Bodies are JSON, or a streamed response handed over as the raw text it was: server-sent events or NDJSON. */
export function acceptContentTypes(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser(['text/event-stream', 'application/x-ndjson'], { parseAs: 'string' }, (_request, body, done) => {
    done(null, body)
  })
}
