import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { bearerDigest, headerDigest, sameDigest } from '../src/access/bearer.ts'
import { ConfigFileError } from '../src/config/yaml-file.ts'
import { RequestError } from '../src/errors.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'
import { ToolDefinitionError } from '../src/tools/tool.ts'

/**
 * Admin routes, served only when TOOLGATE_ADMIN_KEY is set. Without it the route is still declared,
 * so that every gateway's OpenAPI document is the same, but it is guarded as an unknown route is
 * (an API key when there are keys) and answers 404 not_found.
 */
const adminRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  const { adminKey } = app.config
  if (adminKey !== undefined) {
    const expected = bearerDigest(adminKey)
    app.addHook('onRequest', (request, _reply, next) => {
      // Compared as digests, in constant time, before the body is read.
      if (!sameDigest(headerDigest(request.headers.authorization), expected)) {
        next(new RequestError('unauthorized', 'This route wants Authorization: Bearer <TOOLGATE_ADMIN_KEY>.'))
        return
      }
      next()
    })
  }
  app.post(
    '/admin/reload',
    {
      config: { kind: adminKey === undefined ? 'work' : 'admin' },
      schema: {
        summary:
          'Reread TOOLGATE_CONFIG and TOOLGATE_API_KEYS_FILE and put their tools and keys in service; calls in flight finish on the old tools',
        description:
          'Served only when TOOLGATE_ADMIN_KEY is set, for requests bearing it (Authorization: Bearer <TOOLGATE_ADMIN_KEY>); without it, 404 not_found as for an unknown route.',
        response: {
          200: z.object({ status: z.literal('reloaded'), tools: z.array(z.string()) }),
          401: errorReplySchema,
          404: errorReplySchema,
          422: errorReplySchema,
        },
      },
    },
    async () => {
      if (adminKey === undefined) {
        throw new RequestError('not_found', 'No such route: POST /admin/reload is served only when TOOLGATE_ADMIN_KEY is set.')
      }
      try {
        return { status: 'reloaded' as const, tools: await app.reloadTools() }
      } catch (error) {
        if (error instanceof ConfigFileError || error instanceof ToolDefinitionError) {
          throw new RequestError(
            'invalid_config',
            `The configuration was refused; the tools and keys in service are unchanged. ${error.message}`,
          )
        }
        throw error
      }
    },
  )
  done()
}

export default adminRoutes
