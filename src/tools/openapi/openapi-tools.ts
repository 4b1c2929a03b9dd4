import { dirname } from 'node:path'
import { redactor } from '../../config/secrets.ts'
import type { OpenApiConfig, OpenApiOperationConfig } from '../../config/tools-file.ts'
import { ConfigFileError } from '../../config/yaml-file.ts'
import { formatPath } from '../../errors.ts'
import { maxOpenApiDescriptionChars, maxOpenApiSchemaChars, toolNamePattern, toolNameRule } from '../../limits.ts'
import type { Tool } from '../tool.ts'
import { createOpenApiTool, type OpenApiToolDefinition } from './openapi-tool.ts'
import { planOperation } from './operation-plan.ts'
import { OpenApiProblem } from './problem.ts'
import { defaultDocumentLimits, readOpenApiDocument, type DocumentLimits, type OpenApiDocument } from './read-document.ts'

export interface OpenApiLimits extends DocumentLimits {
  /** Characters of one tool's arguments schema as JSON (about). */
  maxSchemaChars: number
}

export const defaultOpenApiLimits: OpenApiLimits = { ...defaultDocumentLimits, maxSchemaChars: maxOpenApiSchemaChars }

export interface OpenApiToolsOptions {
  /** The tools file: a relative document path is read from its directory, and errors name it. */
  configFile: string
  /** The entry's index in the file's `openapi` list. */
  index: number
  /** Values that came from the environment, struck out of every error. */
  secrets: readonly string[]
  /** Names of the tools already defined (built-in, HTTP, earlier documents'): a document's tool may not take one. */
  taken: ReadonlySet<string>
  limits?: OpenApiLimits
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
const idempotentMethods = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])
const readOnlyMethods = new Set(['GET', 'HEAD'])
const destructiveMethods = new Set(['PUT', 'DELETE'])
/** Header parameters left out of the arguments: OpenAPI says to ignore the first three, toolgate sets the others itself. */
const reservedHeaders = ['accept', 'content-type', 'authorization', 'idempotency-key', 'x-toolgate-call-id']

interface FoundOperation {
  pathItem: Record<string, unknown>
  method: string
  at: [string, string, string]
  operation: Record<string, unknown>
}

/**
 * The tools of one `openapi:` entry of the tools file: its document read (again at every
 * reload), each operation the entry names turned into a tool. Throws a ConfigFileError naming
 * the tools file, the entry, the document and the JSON path of what is wrong, secrets struck out.
 */
export async function loadOpenApiTools(entry: OpenApiConfig, options: OpenApiToolsOptions): Promise<Tool[]> {
  const { configFile, index } = options
  const limits = options.limits ?? defaultOpenApiLimits
  const redact = redactor(options.secrets)
  const where = `${configFile}: openapi[${String(index)}] (${entry.document})`
  const { document: _document, baseUrl, prefix, headers, operations, ...defaults } = entry
  try {
    const document = await readOpenApiDocument(entry.document, dirname(configFile), limits)
    const found = operationsOf(document.root)
    const ignoredHeaders = new Set([...reservedHeaders, ...Object.keys(headers ?? {}).map((name) => name.toLowerCase())])
    const names = new Map<string, string>()
    const tools: Tool[] = []
    for (const [key, overrides] of Object.entries(operations)) {
      const operation = selected(found, key, (what) =>
        redact(`${configFile}: openapi[${String(index)}].operations.${key}: ${entry.document} has ${what}`),
      )
      const name = toolName(prefix, key, operation, overrides)
      const other = names.get(name) ?? (options.taken.has(name) ? 'another tool of the configuration' : undefined)
      if (other !== undefined) throw new OpenApiProblem(operation.at, `its tool name "${name}" is taken by ${other}`)
      names.set(name, formatPath(operation.at))
      const plan = planOperation(operation.pathItem, operation.method, operation.at, {
        version: document.version,
        ignoredHeaders,
        maxSchemaChars: limits.maxSchemaChars,
      })
      const { name: _rename, idempotent: _idempotent, readOnly: _readOnly, destructive: _destructive, ...settings } = overrides
      tools.push(
        createOpenApiTool({
          name,
          description: descriptionOf(operation),
          plan,
          baseUrl: baseUrl === undefined ? serverUrl(document, operation) : new URL(baseUrl),
          headers: headers ?? {},
          settings: { ...defaults, ...settings },
          flags: flagsOf(plan.method, overrides),
          redact,
        }),
      )
    }
    return tools
  } catch (error) {
    if (!(error instanceof OpenApiProblem)) throw error
    const path = formatPath(error.path)
    throw new ConfigFileError(redact(`${where}: ${path === '' ? '' : `${path}: `}${error.message}`))
  }
}

/** Every operation of the document, by operationId and by "METHOD /path". */
function operationsOf(root: Record<string, unknown>): Map<string, FoundOperation[]> {
  const paths: unknown = root.paths ?? {}
  if (typeof paths !== 'object' || paths === null) throw new OpenApiProblem(['paths'], 'is not an object')
  const found = new Map<string, FoundOperation[]>()
  const add = (key: string, operation: FoundOperation) => found.set(key, [...(found.get(key) ?? []), operation])
  for (const [path, pathItem] of Object.entries(paths)) {
    if (typeof pathItem !== 'object' || pathItem === null) continue
    for (const method of methods) {
      const operation = (pathItem as Record<string, unknown>)[method]
      if (typeof operation !== 'object' || operation === null) continue
      const entry = { pathItem: pathItem as Record<string, unknown>, method, at: ['paths', path, method] as [string, string, string] }
      const located = { ...entry, operation: operation as Record<string, unknown> }
      add(`${method.toUpperCase()} ${path}`, located)
      const { operationId } = operation as { operationId?: unknown }
      if (typeof operationId === 'string') add(operationId, located)
    }
  }
  return found
}

/** The operation `key` names; `missing` says, of the tools file's entry, what the document lacks. */
function selected(found: Map<string, FoundOperation[]>, key: string, missing: (what: string) => string): FoundOperation {
  const [operation, twice] = found.get(key) ?? []
  if (operation === undefined) {
    throw new ConfigFileError(missing(/^[A-Z]+ \//.test(key) ? 'no such operation' : 'no operation with this operationId'))
  }
  if (twice !== undefined)
    throw new OpenApiProblem([...twice.at, 'operationId'], `the operationId "${key}" is also ${formatPath(operation.at)}'s`)
  return operation
}

function toolName(prefix: string, key: string, { at, operation }: FoundOperation, overrides: OpenApiOperationConfig): string {
  const { operationId } = operation
  const base = overrides.name ?? (typeof operationId === 'string' ? operationId : undefined)
  if (base === undefined) {
    throw new OpenApiProblem(at, `has no operationId: give its tool a name in the tools file (operations: { "${key}": { name: ... } })`)
  }
  const name = `${prefix}${base}`
  if (!toolNamePattern.test(name)) {
    throw new OpenApiProblem(
      overrides.name === undefined ? [...at, 'operationId'] : at,
      `the tool name ${JSON.stringify(name)} ${toolNameRule}`,
    )
  }
  return name
}

function descriptionOf({ at, operation }: FoundOperation): string {
  const texts = [operation.summary, operation.description].filter((text): text is string => typeof text === 'string' && text.trim() !== '')
  const description = [...new Set(texts)].join('\n\n') || `${at[2].toUpperCase()} ${at[1]}`
  return description.length > maxOpenApiDescriptionChars ? `${description.slice(0, maxOpenApiDescriptionChars - 1)}…` : description
}

/**
 * The first `servers[].url` of the operation, its path or the document (`/` when none names one,
 * as OpenAPI says), variables at their defaults, resolved against the document's URL.
 */
function serverUrl(document: OpenApiDocument, { pathItem, at, operation }: FoundOperation): URL {
  const levels: Array<[unknown, PropertyKey[]]> = [
    [operation.servers, [...at, 'servers']],
    [pathItem.servers, [...at.slice(0, 2), 'servers']],
    [document.root.servers, ['servers']],
  ]
  const [servers, path] = levels.find(([list]) => Array.isArray(list) && list.length > 0) ?? [[{ url: '/' }], ['servers']]
  const server = (servers as Array<{ url?: unknown; variables?: Record<string, { default?: unknown }> }>)[0]
  const serverPath = [...path, 0, 'url']
  if (typeof server?.url !== 'string') throw new OpenApiProblem(serverPath, 'is not a URL')
  const filled = server.url.replace(/\{([^{}]*)\}/g, (_match, name: string) => {
    const value = server.variables?.[name]?.default
    if (typeof value !== 'string') throw new OpenApiProblem(serverPath, `the variable {${name}} has no default`)
    return value
  })
  let url: URL
  try {
    url = new URL(filled, document.url)
  } catch {
    throw new OpenApiProblem(serverPath, `${JSON.stringify(filled)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OpenApiProblem(
      serverPath,
      `${JSON.stringify(filled)} is not an http(s) URL from ${document.url.protocol} (give the entry a baseUrl)`,
    )
  }
  return url
}

/**
 * The flags the tools file gives the operation, else its method's word: GET and HEAD change
 * nothing, PUT, DELETE and OPTIONS are idempotent (RFC 9110), DELETE and PUT destroy or overwrite.
 */
function flagsOf(method: string, overrides: OpenApiOperationConfig): OpenApiToolDefinition['flags'] {
  const readOnly = overrides.readOnly ?? readOnlyMethods.has(method)
  return {
    readOnly,
    idempotent: readOnly || (overrides.idempotent ?? idempotentMethods.has(method)),
    destructive: !readOnly && (overrides.destructive ?? destructiveMethods.has(method)),
  }
}
