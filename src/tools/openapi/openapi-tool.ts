import { ToolError } from '../../errors.ts'
import { callHttp, type HttpCaller, type HttpRequest } from '../http/http-call.ts'
import type { Tool } from '../tool.ts'
import { bodyArgument, type OperationPlan, type ParameterPlan } from './operation-plan.ts'

export interface OpenApiToolDefinition {
  name: string
  description: string
  plan: OperationPlan
  /** The service's base URL: the operation's path is appended to its path. */
  baseUrl: URL
  /** The tools file's headers, sent with every call (over the header parameters of the same name, which are left out of the arguments). */
  headers: Record<string, string>
  /** What the tools file sets besides the flags: the limits (the operation's over the entry's), an approval. */
  settings: Omit<Partial<Tool>, 'name' | 'description' | 'inputSchema' | 'parameters' | 'execute' | keyof OpenApiToolDefinition['flags']>
  flags: { idempotent: boolean; readOnly: boolean; destructive: boolean }
  redact: (text: string) => string
}

/**
 * An OpenAPI operation as a tool: the validated arguments are sent as the operation says (path
 * parameters percent-encoded into the path, query and header parameters, the JSON body), with
 * the operation's method, through callHttp. Nothing the model writes changes the host or leaves
 * the operation's path: `/`, `?`, `#` are encoded, and a segment that would read as `.` or `..` is
 * refused.
 */
export function createOpenApiTool(definition: OpenApiToolDefinition): Tool {
  const { name, plan, baseUrl, flags } = definition
  const caller: HttpCaller = { toolName: name, service: `${name}'s endpoint`, repeatable: flags.idempotent, redact: definition.redact }
  const configured = Object.entries(definition.headers)
  return {
    name,
    description: definition.description,
    parameters: plan.argumentsSchema,
    inputSchema: plan.inputSchema,
    ...definition.settings,
    ...flags,
    async execute(args, context) {
      const values = args as Record<string, unknown>
      const request: HttpRequest = {
        method: plan.method,
        url: urlOf(plan, baseUrl, values),
        headers: [...headersOf(plan.parameters, values), ...configured],
        body: plan.hasBody && values[bodyArgument] !== undefined ? JSON.stringify(values[bodyArgument]) : undefined,
      }
      return await callHttp(caller, request, context)
    },
  }
}

function urlOf(plan: OperationPlan, baseUrl: URL, values: Record<string, unknown>): URL {
  const byName = new Map(plan.parameters.map((parameter) => [parameter.name, parameter]))
  const path = plan.pathTemplate.replace(/\{([^{}]*)\}/g, (_match, name: string) => {
    const parameter = byName.get(name)
    const value = values[name]
    if (parameter === undefined || value === undefined || value === null) throw new ToolError(`the path parameter ${name} is missing`)
    const text = serialized(parameter, value, encodeURIComponent)
    if (text === '') throw new ToolError(`the path parameter ${name} is empty`)
    return text
  })
  // encodeURIComponent keeps dots, and the URL parser reads `..` (or `%2e%2e`) as going up.
  if (path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) {
    throw new ToolError('a path parameter cannot be "." or "..": it would leave the operation\'s path')
  }
  const url = new URL(baseUrl)
  url.pathname = `${baseUrl.pathname.replace(/\/+$/, '')}${path}`
  for (const parameter of plan.parameters) {
    const value = values[parameter.name]
    if (parameter.in !== 'query' || value === undefined || value === null) continue
    for (const [key, text] of queryPairs(parameter, value)) url.searchParams.append(key, text)
  }
  return url
}

function headersOf(parameters: readonly ParameterPlan[], values: Record<string, unknown>): Array<[string, string]> {
  const headers: Array<[string, string]> = []
  for (const parameter of parameters) {
    const value = values[parameter.name]
    if (parameter.in !== 'header' || value === undefined || value === null) continue
    const text = serialized(parameter, value, (part) => part)
    // Only visible ASCII, spaces and tabs: fetch would refuse the rest with a message quoting the value.
    if (!/^[\t\x20-\x7e]*$/.test(text)) throw new ToolError(`the header parameter ${parameter.name} has a character a header cannot carry`)
    headers.push([parameter.name, text])
  }
  return headers
}

/** A path or header value in the simple style: arrays and objects joined by commas (`k=v` when exploded). */
function serialized(parameter: ParameterPlan, value: unknown, encode: (part: string) => string): string {
  if (parameter.json) return encode(JSON.stringify(value))
  if (Array.isArray(value)) return value.map((item) => encode(scalar(item))).join(',')
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, item]) => [encode(key), encode(scalar(item))])
    return entries.map((entry) => entry.join(parameter.explode ? '=' : ',')).join(',')
  }
  return encode(scalar(value))
}

/** A query parameter's name=value pairs in its style (form by default, exploded: `id=1&id=2`); URLSearchParams encodes them. */
function queryPairs(parameter: ParameterPlan, value: unknown): Array<[string, string]> {
  const { name, style, explode } = parameter
  if (parameter.json) return [[name, JSON.stringify(value)]]
  if (Array.isArray(value)) {
    const items = value.map(scalar)
    if (style === 'spaceDelimited' || style === 'pipeDelimited') return [[name, items.join(style === 'spaceDelimited' ? ' ' : '|')]]
    return explode ? items.map((item) => [name, item]) : [[name, items.join(',')]]
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([key, item]): [string, string] => [key, scalar(item)])
    if (style === 'deepObject') return entries.map(([key, item]) => [`${name}[${key}]`, item])
    return explode ? entries : [[name, entries.flat().join(',')]]
  }
  return [[name, scalar(value)]]
}

function scalar(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)
}
