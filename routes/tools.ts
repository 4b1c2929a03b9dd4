import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorReplySchema } from '../src/http/error-reply.ts'
import { declarationsSchema, declareTools, providerNames } from '../src/providers/index.ts'

const toolsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/tools',
    {
      schema: {
        summary: "The registered tools, as the `tools` parameter of a provider's request",
        querystring: z.object({
          format: z.enum(providerNames).default('openai').describe('The provider whose tool-declaration format to answer in.'),
        }),
        response: { 200: declarationsSchema, 400: errorReplySchema, 401: errorReplySchema, 429: errorReplySchema, 503: errorReplySchema },
      },
    },
    (request) => declareTools(request.query.format, app.registry.descriptions(request.caller?.tools)),
  )
  done()
}

export default toolsRoutes
