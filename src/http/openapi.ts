import fastifySwagger from '@fastify/swagger'
import fp from 'fastify-plugin'
import { jsonSchemaTransform } from 'fastify-type-provider-zod'
import packageJson from '../../package.json' with { type: 'json' }

/** The OpenAPI document, made from the routes' zod schemas (GET /openapi.json, and openapi/ by npm run openapi). */
export const openapiDocument = fp(
  async (app) => {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'toolgate',
          version: packageJson.version,
          description:
            "Runs a model response's parallel tool calls and answers with the tool messages, in the calls' order, with the model's ids.",
        },
      },
      transform: jsonSchemaTransform,
    })
  },
  { name: 'toolgate-openapi', fastify: '5.x' },
)
