import { z } from 'zod'
import { describeThrown } from '../../errors.ts'
import { OpenApiProblem } from './problem.ts'

export type ParameterLocation = 'path' | 'query' | 'header'
export type ParameterStyle = 'simple' | 'form' | 'deepObject' | 'spaceDelimited' | 'pipeDelimited'

/** How one argument is sent: where, under which name, serialized in which OpenAPI style. */
export interface ParameterPlan {
  name: string
  in: ParameterLocation
  style: ParameterStyle
  explode: boolean
  /** Described by `content` (a JSON media type) rather than `schema`: sent as JSON text. */
  json: boolean
}

/** An operation made ready to call: what to send where, and the arguments' JSON Schema and zod schema. */
export interface OperationPlan {
  method: string
  pathTemplate: string
  parameters: ParameterPlan[]
  /** The JSON request body is the `body` argument. */
  hasBody: boolean
  argumentsSchema: Record<string, unknown>
  inputSchema: z.ZodType
}

export interface PlanOptions {
  version: '3.0' | '3.1'
  /** Header parameters left out of the arguments, lower case: those toolgate or the tools file sets. */
  ignoredHeaders: ReadonlySet<string>
  maxSchemaChars: number
}

/** The property of the arguments that holds the JSON request body. */
export const bodyArgument = 'body'

const styles: Record<ParameterLocation, readonly ParameterStyle[]> = {
  path: ['simple'],
  query: ['form', 'deepObject', 'spaceDelimited', 'pipeDelimited'],
  header: ['simple'],
}
const jsonMediaType = /^application\/([\w.+-]+\+)?json\s*(;|$)/i

/**
 * The plan of the operation at `at` (['paths', '/pets/{id}', 'get']): one object schema whose
 * properties are its path, query and header parameters by name, and its JSON request body under
 * `body`. A name used twice (by two locations, or `body` beside a body) is refused rather than
 * renamed, so that every argument is the parameter the document names. Throws an OpenApiProblem
 * naming the JSON path of what cannot be sent or converted.
 */
export function planOperation(
  pathItem: Record<string, unknown>,
  method: string,
  at: readonly PropertyKey[],
  options: PlanOptions,
): OperationPlan {
  const [, pathTemplate] = at as [string, string, string]
  const operation = pathItem[method] as Record<string, unknown>
  const budget = { chars: options.maxSchemaChars, at }
  const properties: Record<string, unknown> = {}
  const sources: Record<string, readonly PropertyKey[]> = {}
  const required: string[] = []
  const parameters: ParameterPlan[] = []
  for (const { parameter, path } of mergedParameters(pathItem, operation, at)) {
    inspect(parameter, path, budget)
    const plan = parameterPlan(parameter, path)
    if (plan.in === 'header' && options.ignoredHeaders.has(plan.name.toLowerCase())) continue
    if (plan.name in sources) throw new OpenApiProblem(path, `the argument name "${plan.name}" is taken by another parameter`)
    properties[plan.name] = described(schemaOf(parameter, path), parameter.description)
    sources[plan.name] = path
    if (parameter.required === true || plan.in === 'path') required.push(plan.name)
    parameters.push(plan)
  }
  checkTemplate(pathTemplate, parameters, at)
  const bodiless = method === 'get' || method === 'head'
  if (bodiless) refuseRequiredBody(operation.requestBody, at)
  const body = bodiless ? undefined : jsonBody(operation.requestBody, [...at, 'requestBody'], budget)
  if (body !== undefined) {
    if (bodyArgument in sources) {
      throw new OpenApiProblem(sources[bodyArgument] ?? at, `a parameter named "${bodyArgument}" collides with the request body's argument`)
    }
    properties[bodyArgument] = body.schema
    sources[bodyArgument] = body.path
    if (body.required) required.push(bodyArgument)
  }
  const argumentsSchema = {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  }
  return {
    method: method.toUpperCase(),
    pathTemplate,
    parameters,
    hasBody: body !== undefined,
    argumentsSchema,
    inputSchema: toZod(argumentsSchema, properties, sources, at, options.version),
  }
}

interface Located {
  parameter: Record<string, unknown>
  path: PropertyKey[]
}

/** The path item's parameters, those of the operation replacing any of the same name and location. */
function mergedParameters(pathItem: Record<string, unknown>, operation: Record<string, unknown>, at: readonly PropertyKey[]): Located[] {
  const merged = new Map<string, Located>()
  const lists: Array<[unknown, PropertyKey[]]> = [
    [pathItem.parameters, [...at.slice(0, 2), 'parameters']],
    [operation.parameters, [...at, 'parameters']],
  ]
  for (const [list, listPath] of lists) {
    if (list === undefined) continue
    if (!Array.isArray(list)) throw new OpenApiProblem(listPath, 'is not a list')
    list.forEach((parameter: unknown, index) => {
      const path = [...listPath, index]
      if (typeof parameter !== 'object' || parameter === null) throw new OpenApiProblem(path, 'is not a parameter object')
      const { name, in: location } = parameter as { name?: unknown; in?: unknown }
      merged.set(`${String(location)}\n${String(name)}`, { parameter: parameter as Record<string, unknown>, path })
    })
  }
  return [...merged.values()]
}

function parameterPlan(parameter: Record<string, unknown>, path: PropertyKey[]): ParameterPlan {
  const { name, in: location, style, explode } = parameter
  if (typeof name !== 'string' || name === '') throw new OpenApiProblem(path, 'a parameter needs a name')
  if (location === 'cookie') throw new OpenApiProblem(path, `"${name}" is a cookie parameter, which toolgate does not send`)
  if (location !== 'path' && location !== 'query' && location !== 'header') {
    throw new OpenApiProblem(path, `"${name}" is in ${JSON.stringify(location ?? null)}, not in path, query or header`)
  }
  const allowed = styles[location]
  const chosen = style ?? allowed[0]
  if (!allowed.includes(chosen as ParameterStyle)) {
    throw new OpenApiProblem(
      path,
      `the style ${JSON.stringify(chosen)} of "${name}" is not supported in ${location} (${allowed.join(', ')})`,
    )
  }
  return {
    name,
    in: location,
    style: chosen as ParameterStyle,
    explode: typeof explode === 'boolean' ? explode : chosen === 'form',
    json: parameter.schema === undefined,
  }
}

function schemaOf(parameter: Record<string, unknown>, path: PropertyKey[]): unknown {
  if (parameter.schema !== undefined) return parameter.schema
  const content = parameter.content as Record<string, { schema?: unknown }> | undefined
  const [type, media] = Object.entries(content ?? {})[0] ?? []
  if (type === undefined) throw new OpenApiProblem(path, 'a parameter needs a schema or a content')
  if (!jsonMediaType.test(type)) throw new OpenApiProblem([...path, 'content', type], 'only a JSON media type can describe a parameter')
  return media?.schema ?? {}
}

/** Every `{name}` of the path is a path parameter, and every path parameter is in the path. */
function checkTemplate(template: string, parameters: readonly ParameterPlan[], at: readonly PropertyKey[]): void {
  const named = new Set([...template.matchAll(/\{([^{}]*)\}/g)].map((match) => match[1] ?? ''))
  const declared = new Set(parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name))
  for (const name of named) if (!declared.has(name)) throw new OpenApiProblem(at, `the path's {${name}} is not a path parameter`)
  for (const name of declared) if (!named.has(name)) throw new OpenApiProblem(at, `the path parameter "${name}" is not in the path`)
}

/** The JSON request body's schema; undefined when there is none, or only an optional one of another type (left out). */
function jsonBody(
  requestBody: unknown,
  path: PropertyKey[],
  budget: Budget,
): { schema: unknown; required: boolean; path: PropertyKey[] } | undefined {
  if (requestBody === undefined) return undefined
  inspect(requestBody, path, budget)
  const { content, required, description } = requestBody as {
    content?: Record<string, { schema?: unknown }>
    required?: unknown
    description?: unknown
  }
  const types = Object.keys(content ?? {})
  const json = types.find((type) => jsonMediaType.test(type))
  if (json === undefined) {
    if (required !== true) return undefined
    throw new OpenApiProblem(path, `a required request body of ${types.join(', ') || 'no media type'} cannot be sent: toolgate sends JSON`)
  }
  const schemaPath = [...path, 'content', json, 'schema']
  return { schema: described(content?.[json]?.schema ?? {}, description), required: required === true, path: schemaPath }
}

/** A GET or HEAD request cannot carry a body (fetch refuses to send one): an optional one is left out. */
function refuseRequiredBody(requestBody: unknown, at: readonly PropertyKey[]): void {
  if ((requestBody as { required?: unknown } | undefined)?.required === true) {
    throw new OpenApiProblem([...at, 'requestBody'], `a ${String(at[2]).toUpperCase()} request cannot carry the required body`)
  }
}

/** The schema, with the parameter's or body's description when it has none of its own. */
function described(schema: unknown, description: unknown): unknown {
  if (typeof description !== 'string' || typeof schema !== 'object' || schema === null || 'description' in schema) return schema
  return { ...schema, description }
}

interface Budget {
  /** Characters of JSON the arguments schema may still take, about: its keys and strings, and two for each object. */
  chars: number
  at: readonly PropertyKey[]
}

/**
 * Walks what the arguments will be made of: a `$ref` left there was not followed (to another
 * document), an object met again inside itself is a circular `$ref`, and its size is counted, a
 * shared schema at every use, since GET /tools shows each use in full.
 */
function inspect(value: unknown, path: PropertyKey[], budget: Budget, within = new Set<object>()): void {
  if (typeof value !== 'object' || value === null) return
  budget.chars -= 2 + Object.keys(value).reduce((sum, key) => sum + key.length + sizeOf((value as Record<string, unknown>)[key]), 0)
  if (budget.chars < 0) throw new OpenApiProblem(budget.at, 'the arguments schema is too large (its JSON would be longer than the limit)')
  if (within.has(value)) throw new OpenApiProblem(path, 'is a circular $ref (a schema within itself), which arguments cannot be made of')
  if (!Array.isArray(value) && typeof (value as { $ref?: unknown }).$ref === 'string') {
    const ref = (value as { $ref: string }).$ref
    throw new OpenApiProblem(path, `the $ref ${JSON.stringify(ref)} points to another document, which toolgate does not read`)
  }
  within.add(value)
  for (const [key, item] of Object.entries(value)) inspect(item, [...path, Array.isArray(value) ? Number(key) : key], budget, within)
  within.delete(value)
}

/** The characters a scalar takes in JSON, about; an object or array is counted when it is walked. */
function sizeOf(value: unknown): number {
  return typeof value === 'string' ? value.length + 2 : typeof value === 'object' && value !== null ? 0 : 8
}

/** zod's converter of the whole schema; when it fails, the property it fails on is named. */
function toZod(
  schema: Record<string, unknown>,
  properties: Record<string, unknown>,
  sources: Record<string, readonly PropertyKey[]>,
  at: readonly PropertyKey[],
  version: '3.0' | '3.1',
): z.ZodType {
  const defaultTarget = version === '3.0' ? 'openapi-3.0' : 'draft-2020-12'
  const convert = (json: unknown) => z.fromJSONSchema(json as Parameters<typeof z.fromJSONSchema>[0], { defaultTarget })
  try {
    return convert(schema)
  } catch (error) {
    for (const [name, property] of Object.entries(properties)) {
      try {
        convert(property)
      } catch (propertyError) {
        throw new OpenApiProblem(sources[name] ?? at, `zod cannot convert the schema of "${name}": ${describeThrown(propertyError)}`)
      }
    }
    throw new OpenApiProblem(at, `zod cannot convert the arguments schema: ${describeThrown(error)}`)
  }
}
