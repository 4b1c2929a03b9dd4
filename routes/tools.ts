import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { declarationFormats } from '../src/providers/declarations.ts'
import { errorReplySchema } from '../src/http/error-reply.ts'

const jsonSchema = z.record(z.string(), z.unknown()).describe('JSON Schema of the arguments.')

const declarationsSchema = z.union([
  z
    .array(z.object({ type: z.literal('function'), function: z.object({ name: z.string(), description: z.string().optional(), parameters: jsonSchema.optional() }) }))
    .describe('format=openai: Chat Completions function tools'),
  z
    .array(
      z.object({
        type: z.literal('function'),
        name: z.string(),
        description: z.string().nullish(),
        parameters: jsonSchema.nullable(),
        strict: z.boolean().nullable(),
      }),
    )
    .describe('format=responses: Responses API function tools'),
  z.array(z.object({ name: z.string(), description: z.string(), input_schema: jsonSchema })).describe('format=anthropic: Messages API tools'),
  z
    .array(z.object({ functionDeclarations: z.array(z.object({ name: z.string(), description: z.string(), parametersJsonSchema: jsonSchema })) }))
    .describe('format=gemini: one generateContent tool holding every function declaration'),
])

export const toolsRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get(
    '/tools',
    {
      schema: {
        summary: "The registered tools, as the `tools` parameter of a provider's request",
        querystring: z.object({
          format: z.enum(declarationFormats).default('openai').describe('The provider whose tool-declaration format to answer in.'),
        }),
        response: { 200: declarationsSchema, 400: errorReplySchema, 401: errorReplySchema, 429: errorReplySchema, 503: errorReplySchema },
      },
    },
    (request) => app.registry.declare(request.query.format, request.caller?.tools),
  )
  done()
}
