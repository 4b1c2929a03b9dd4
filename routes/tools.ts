import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorReplySchema } from '../src/http/error-reply.ts'
import { declarationsSchema, declareTools, providerNames } from '../src/providers/index.ts'

/** `format=toolgate`: what the provider formats cannot carry, each tool's side effects and lane. */
const listingsSchema = z
  .array(
    z.object({
      name: z.string(),
      description: z.string(),
      parameters: z.record(z.string(), z.unknown()).describe('JSON Schema of the arguments.'),
      readOnly: z.boolean().describe('It changes nothing; implies idempotent.'),
      idempotent: z.boolean().describe('Running it twice does what running it once does: a timed-out attempt is retried.'),
      destructive: z.boolean().describe('It may destroy or overwrite something: approvals, when enabled, ask for it by default.'),
      lane: z
        .object({
          key: z.string().nullable().describe('The key template ("note:{id}"); null when the tool computes its key in code.'),
          stopOnFailure: z.boolean(),
        })
        .nullable()
        .describe("Calls of a batch with the same lane key run one after another, in the model's order; null: no lane."),
    }),
  )
  .describe("format=toolgate: toolgate's own listing, with each tool's side effects and lane")

const toolsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/tools',
    {
      schema: {
        summary: "The registered tools, as the `tools` parameter of a provider's request, or with their side effects and lanes",
        querystring: z.object({
          format: z
            .enum([...providerNames, 'toolgate'])
            .default('openai')
            .describe(
              "The provider whose tool-declaration format to answer in, or toolgate's own listing with each tool's flags and lane.",
            ),
        }),
        response: {
          200: z.union([declarationsSchema, listingsSchema]),
          400: errorReplySchema,
          401: errorReplySchema,
          429: errorReplySchema,
          503: errorReplySchema,
        },
      },
    },
    (request) => {
      const { format } = request.query
      const only = request.caller?.tools
      return format === 'toolgate' ? app.registry.listings(only) : declareTools(format, app.registry.descriptions(only))
    },
  )
  done()
}

export default toolsRoutes
