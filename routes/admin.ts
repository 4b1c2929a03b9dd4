import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ConfigFileError } from '../src/config/tools-file.ts'
import { RequestError } from '../src/errors.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'

const digest = (text: string) => createHash('sha256').update(text).digest()

/** Admin routes, registered only when TOOLGATE_ADMIN_KEY is set. */
export const adminRoutes: FastifyPluginCallbackZod<{ adminKey: string }> = (app, options, done) => {
  const expected = digest(`Bearer ${options.adminKey}`)
  app.addHook('onRequest', (request, _reply, next) => {
    // Compared as digests, in constant time, before the body is read.
    const given = request.headers.authorization
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      next(new RequestError('unauthorized', 'This route wants Authorization: Bearer <TOOLGATE_ADMIN_KEY>.'))
      return
    }
    next()
  })
  app.post(
    '/admin/reload',
    {
      schema: {
        summary: 'Reread TOOLGATE_CONFIG and TOOLGATE_API_KEYS_FILE and put their tools and keys in service; calls in flight finish on the old tools',
        response: { 200: z.object({ status: z.literal('reloaded'), tools: z.array(z.string()) }), 401: errorReplySchema, 422: errorReplySchema },
      },
    },
    async () => {
      try {
        return { status: 'reloaded' as const, tools: await app.reloadTools() }
      } catch (error) {
        if (error instanceof ConfigFileError || error instanceof TypeError) throw new RequestError('invalid_config', `The configuration was refused; the tools and keys in service are unchanged. ${error.message}`)
        throw error
      }
    },
  )
  done()
}
