import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'

const openAIToolsSchema = z.array(
  z.object({
    type: z.literal('function'),
    function: z.object({
      name: z.string(),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional().describe('JSON Schema of the arguments.'),
    }),
  }),
)

export const toolsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/tools',
    {
      schema: {
        summary: 'The registered tools, as the `tools` of a chat completion request',
        response: { 200: openAIToolsSchema },
      },
    },
    () => app.registry.toOpenAITools(),
  )
  done()
}
