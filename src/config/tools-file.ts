import { readFile } from 'node:fs/promises'
import { LineCounter, parseDocument } from 'yaml'
import { z } from 'zod'

const positiveInt = z.int().positive()
const limits = {
  timeoutMs: positiveInt.optional().describe('Deadline of a call, retries included.'),
  attemptTimeoutMs: positiveInt.optional().describe('Deadline of one attempt.'),
  retries: z.int().min(0).max(10).optional().describe('Further attempts after a retryable failure.'),
  concurrency: positiveInt.optional().describe('Calls of this tool running at once.'),
}

const httpToolSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"'),
  description: z.string().min(1),
  parameters: z
    .looseObject({ type: z.literal('object', { message: 'the arguments must be described by an object schema (type: object)' }) })
    .describe('JSON Schema of the arguments; an object schema.'),
  http: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('Where the validated arguments are POSTed as JSON.'),
    headers: z.record(z.string(), z.string()).optional().describe('Sent with every call; ${VAR} takes a value from the environment.'),
  }),
  idempotent: z.boolean().default(false).describe('Only idempotent tools are retried on upstream failures.'),
  ...limits,
})

const serverName = z.string().regex(/^[a-zA-Z0-9_-]{1,30}$/, 'must be 1 to 30 letters, digits, "_" or "-"')

const mcpServerSchema = z.union([
  z
    .strictObject({
      name: serverName,
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: z.record(z.string(), z.string()).optional(),
      cwd: z.string().optional(),
      ...limits,
    })
    .describe('An MCP server started as a process and spoken to over stdio.'),
  z
    .strictObject({
      name: serverName,
      url: z.url({ protocol: /^https?$/ }),
      headers: z.record(z.string(), z.string()).optional(),
      ...limits,
    })
    .describe('An MCP server reached over Streamable HTTP.'),
])

/** The configuration file: tools behind HTTP endpoints, MCP servers, and what to change of the built-in ones. */
export const configFileSchema = z.strictObject({
  tools: z.array(httpToolSchema).default([]),
  mcp: z.array(mcpServerSchema).default([]).describe('MCP servers whose tools appear as <server>__<tool>.'),
  builtins: z
    .strictObject({
      disabled: z.array(z.string()).default([]).describe('Built-in tools to leave out.'),
      overrides: z.record(z.string(), z.strictObject(limits)).default({}).describe('Other limits for built-in tools, by name.'),
    })
    .default({ disabled: [], overrides: {} }),
})

export type ConfigFile = z.output<typeof configFileSchema>
export type HttpToolConfig = ConfigFile['tools'][number]
export type McpServerConfig = ConfigFile['mcp'][number]

/** A function that strikes the given secrets out of a text, for error messages. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  return (text) => secrets.reduce((result, secret) => result.split(secret).join('[redacted]'), text)
}

export class ConfigFileError extends Error {
  override name = 'ConfigFileError'
}

/**
 * Reads a JSON or YAML configuration file, puts in the `${VAR}` values from the environment and
 * validates it. Every problem is reported with its line and path, and a ConfigFileError is
 * thrown; the values that came from the environment are returned apart so that they can be kept
 * out of logs and errors.
 */
export async function loadConfigFile(
  path: string,
  environment: Record<string, string | undefined> = process.env,
): Promise<{ config: ConfigFile; secrets: string[] }> {
  return loadYamlFile(configFileSchema, path, environment)
}

export function parseConfigFile(
  text: string,
  source: string,
  environment: Record<string, string | undefined>,
): { config: ConfigFile; secrets: string[] } {
  return parseYaml(configFileSchema, text, source, environment)
}

/** Reads a JSON or YAML file validated by `schema`, as loadConfigFile does. */
export async function loadYamlFile<Schema extends z.ZodType>(
  schema: Schema,
  path: string,
  environment: Record<string, string | undefined>,
): Promise<{ config: z.output<Schema>; secrets: string[] }> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigFileError(`${path}: cannot be read (${error instanceof Error ? error.message : String(error)})`)
  }
  return parseYaml(schema, text, path, environment)
}

function parseYaml<Schema extends z.ZodType>(
  schema: Schema,
  text: string,
  source: string,
  environment: Record<string, string | undefined>,
): { config: z.output<Schema>; secrets: string[] } {
  const lineCounter = new LineCounter()
  // YAML is a superset of JSON: one parser serves both, with line numbers for both.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const at = (offset: number | undefined) => {
    if (offset === undefined) return ''
    const { line, col } = lineCounter.linePos(offset)
    return `:${String(line)}:${String(col)}`
  }
  if (document.errors.length > 0) {
    throw new ConfigFileError(document.errors.map((error) => `${source}${at(error.pos[0])}: ${error.message}`).join('\n'))
  }
  const secrets: string[] = []
  const problems: string[] = []
  const raw = substitute(document.toJS() as unknown, [], environment, secrets, (path, name) => {
    problems.push(`${source}${at(nodeOffset(document, path))}: ${formatPath(path)}: the environment has no ${name}`)
  })
  if (problems.length > 0) throw new ConfigFileError(problems.join('\n'))
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    throw new ConfigFileError(
      parsed.error.issues
        .map((issue) => `${source}${at(nodeOffset(document, issue.path))}: ${formatPath(issue.path)}: ${issue.message}`)
        .join('\n'),
    )
  }
  return { config: parsed.data, secrets }
}

/** Replaces `${VAR}` in every string with the environment's value, remembering those values as secrets. */
function substitute(
  value: unknown,
  path: PropertyKey[],
  environment: Record<string, string | undefined>,
  secrets: string[],
  missing: (path: PropertyKey[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = environment[name]
      if (found === undefined || found === '') {
        missing(path, name)
        return ''
      }
      secrets.push(found)
      return found
    })
  }
  if (Array.isArray(value)) return value.map((item, index) => substitute(item, [...path, index], environment, secrets, missing))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitute(item, [...path, key], environment, secrets, missing)]),
    )
  }
  return value
}

function nodeOffset(document: ReturnType<typeof parseDocument>, path: PropertyKey[]): number | undefined {
  // The deepest node that exists on the path: a missing key is reported where its parent is.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined
    if (node?.range) return node.range[0]
  }
  return undefined
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)'
  return path.map((key, index) => (typeof key === 'number' ? `[${String(key)}]` : `${index === 0 ? '' : '.'}${String(key)}`)).join('')
}
