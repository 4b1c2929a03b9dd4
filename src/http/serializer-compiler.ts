import type { FastifySerializerCompiler } from 'fastify'
import { serializerCompiler as parsingSerializerCompiler } from 'fastify-type-provider-zod'
import type { z } from 'zod'

/** What JSON.stringify writes for an own `__proto__` key (in a string, a quote is written `\"`): a rare false match only costs the parse. */
const ownProtoKey = '"__proto__":'

/**
 * Serializes a reply with JSON.stringify, without parsing it through its zod response schema
 * first: the replies are built by typed code from the schemas' own types, in the schemas' key
 * order, with no transforms or defaults on output; the schemas are the OpenAPI document's and the
 * tests'. Parsing each reply again cost more than writing it.
 *
 * What that parse did to the bytes is kept: it dropped an own `__proto__` key from a `z.record`
 * (a Gemini functionResponse's `response` is a tool's output, and JSON.parse makes such a key from
 * an upstream's text), and refused a value JSON cannot write. A reply holding either (rare, and
 * seen in the JSON already written) goes through that parse, exactly as before.
 */
export const serializerCompiler: FastifySerializerCompiler<z.ZodType> = (routeSchema) => {
  const parsing = parsingSerializerCompiler(routeSchema)
  return (data: unknown) => {
    const json = JSON.stringify(data) as string | undefined
    return json === undefined || json.includes(ownProtoKey) ? parsing(data) : json
  }
}
