import fastifySwagger from '@fastify/swagger'
import fp from 'fastify-plugin'
import { jsonSchemaTransform } from 'fastify-type-provider-zod'
import packageJson from '../../package.json' with { type: 'json' }

/**
 * The zod provider's transform, and what it cannot say: a reply that is not JSON. A route gives
 * one as a string schema with `contentMediaType` (GET /metrics' Prometheus text), and the document
 * gets it as a body of that media type instead of an application/json string.
 */
const transform: typeof jsonSchemaTransform = (input) => {
  const transformed = jsonSchemaTransform(input)
  const responses = (transformed.schema as { response?: Record<string, unknown> }).response ?? {}
  for (const [status, schema] of Object.entries(responses)) {
    if (!isTextReply(schema)) continue
    const { contentMediaType, description } = schema
    // What is left of the string's schema, without the keys of a standalone document ($id, $schema).
    const body = Object.fromEntries(
      Object.entries(schema).filter(([key]) => !['contentMediaType', 'description', '$id', '$schema'].includes(key)),
    )
    responses[status] = { description, content: { [contentMediaType]: { schema: body } } }
  }
  return transformed
}

function isTextReply(schema: unknown): schema is { type: 'string'; contentMediaType: string; description?: string } {
  return (
    typeof schema === 'object' &&
    schema !== null &&
    (schema as { type?: unknown }).type === 'string' &&
    typeof (schema as { contentMediaType?: unknown }).contentMediaType === 'string'
  )
}

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
      transform,
    })
  },
  { name: 'toolgate-openapi', fastify: '5.x' },
)
