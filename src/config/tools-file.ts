import { z } from 'zod'
import { maxOpenApiOperations, mcpServerNamePattern, mcpServerNameRule, toolNamePattern, toolNameRule } from '../limits.ts'
import { loadYamlFile, parseYamlFile } from './yaml-file.ts'

const positiveInt = z.int().positive()
const limits = {
  timeoutMs: positiveInt.optional().describe('Deadline of a call, retries included.'),
  attemptTimeoutMs: positiveInt.optional().describe('Deadline of one attempt.'),
  retries: z.int().min(0).max(10).optional().describe('Further attempts after a retryable failure.'),
  concurrency: positiveInt.optional().describe('Calls of this tool running at once.'),
  approval: z
    .enum(['required', 'never'])
    .optional()
    .describe(
      "required: each call waits for a human's approval; never: none does, even a destructive tool's. Unset: destructive tools need it.",
    ),
}

const laneSchema = z
  .union([
    z.string(),
    z.strictObject({
      key: z.string(),
      stopOnFailure: z
        .boolean()
        .optional()
        .describe("A failed call stops the lane: the lane's later calls of the batch are answered skipped."),
    }),
  ])
  .describe(
    'Calls of a batch with the same lane key run one after another, in the model\'s order: "note:{id}" takes id from the arguments; a key without {...} puts every call of the tool in one lane.',
  )
const destructiveFlag = z.boolean().describe('It may destroy or overwrite something; approvals, when enabled, ask for it by default.')

const httpToolSchema = z.strictObject({
  name: z.string().regex(toolNamePattern, toolNameRule),
  description: z.string().min(1),
  parameters: z
    .looseObject({ type: z.literal('object', { message: 'the arguments must be described by an object schema (type: object)' }) })
    .describe('JSON Schema of the arguments; an object schema.'),
  http: z.strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('Where the validated arguments are POSTed as JSON.'),
    headers: z.record(z.string(), z.string()).optional().describe('Sent with every call; ${VAR} takes a value from the environment.'),
  }),
  idempotent: z
    .boolean()
    .default(false)
    .describe(
      'Calling it twice with the same arguments does what calling it once does. Only idempotent (or read-only) tools are retried on upstream failures, or run again after a replica died mid-call.',
    ),
  readOnly: z.boolean().default(false).describe('It changes nothing (a lookup); implies idempotent.'),
  destructive: destructiveFlag.default(false),
  lane: laneSchema.optional(),
  ...limits,
})

const serverName = z.string().regex(mcpServerNamePattern, mcpServerNameRule)

/**
 * For every tool of the server. Each flag, when given (true or false), overrides the tool's own
 * MCP annotation (idempotentHint, readOnlyHint): annotations are the server's word, which the MCP
 * specification says not to trust from a server one does not trust, and the operator knows better.
 * readOnly implies idempotent: `idempotent: false` alone disregards readOnlyHint as well.
 */
const mcpFlags = {
  idempotent: z
    .boolean()
    .optional()
    .describe("Its tools are idempotent, whatever their idempotentHint says; unset, each tool's idempotentHint decides."),
  readOnly: z
    .boolean()
    .optional()
    .describe("Its tools change nothing (implies idempotent), whatever their readOnlyHint says; unset, each tool's readOnlyHint decides."),
  destructive: destructiveFlag
    .optional()
    .describe(
      "Its tools may destroy something, whatever their destructiveHint says; unset, each tool's destructiveHint decides (absent: destructive unless read-only).",
    ),
  tools: z
    .record(
      z.string(),
      z.strictObject({
        idempotent: z.boolean().optional(),
        readOnly: z.boolean().optional(),
        destructive: destructiveFlag.optional(),
        lane: laneSchema.optional(),
      }),
    )
    .optional()
    .describe("By the server's own tool name: flags over the server-wide ones and the annotations, and the tool's lane."),
}

const mcpServerSchema = z.union([
  z
    .strictObject({
      name: serverName,
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: z.record(z.string(), z.string()).optional(),
      cwd: z.string().optional(),
      ...mcpFlags,
      ...limits,
    })
    .describe('An MCP server started as a process and spoken to over stdio.'),
  z
    .strictObject({
      name: serverName,
      url: z.url({ protocol: /^https?$/ }),
      headers: z.record(z.string(), z.string()).optional(),
      ...mcpFlags,
      ...limits,
    })
    .describe('An MCP server reached over Streamable HTTP.'),
])

const openApiOperationSchema = z.strictObject({
  name: z
    .string()
    .regex(toolNamePattern, toolNameRule)
    .optional()
    .describe('The tool name (before the prefix) instead of the operationId.'),
  idempotent: z.boolean().optional().describe("Over the method's word (PUT, DELETE, OPTIONS are idempotent; GET, HEAD read-only)."),
  readOnly: z.boolean().optional().describe('It changes nothing (implies idempotent), whatever the method.'),
  destructive: destructiveFlag.optional().describe("Over the method's word (PUT and DELETE are destructive)."),
  ...limits,
})

/**
 * An HTTP service described by an OpenAPI 3.x document, whose operations become tools. The
 * operations are an allowlist, required: a document is the service's to change (one fetched by
 * URL changes at every reload), and a new operation, a DELETE say, must not reach the model unless
 * the operator named it.
 */
const openApiSchema = z.strictObject({
  document: z
    .string()
    .min(1)
    .describe("A file (relative to this file's directory) or an http(s) URL, read at start-up and at every reload."),
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("Where the operations' paths are appended; default: the document's first servers[].url."),
  prefix: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{0,32}$/, 'must be at most 32 letters, digits, "_" or "-"')
    .default('')
    .describe('Put before every tool name.'),
  headers: z.record(z.string(), z.string()).optional().describe('Sent with every call; ${VAR} takes a value from the environment.'),
  operations: z
    .record(
      z.string().min(1),
      openApiOperationSchema.nullable().transform((operation) => operation ?? {}),
    )
    .refine((operations) => Object.keys(operations).length > 0, 'name at least one operation')
    .refine((operations) => Object.keys(operations).length <= maxOpenApiOperations, `at most ${String(maxOpenApiOperations)} operations`)
    .describe(
      'By operationId (or "GET /path" with a name, for an operation without one): the operations to serve, each with its overrides.',
    ),
  ...limits,
})

/** The configuration file: tools behind HTTP endpoints, MCP servers, and what to change of the built-in ones. */
export const configFileSchema = z.strictObject({
  tools: z.array(httpToolSchema).default([]),
  mcp: z.array(mcpServerSchema).default([]).describe('MCP servers whose tools appear as <server>__<tool>.'),
  openapi: z.array(openApiSchema).default([]).describe('HTTP services described by OpenAPI 3.x documents, their operations as tools.'),
  builtins: z
    .strictObject({
      disabled: z.array(z.string()).default([]).describe('Built-in tools to leave out.'),
      overrides: z
        .record(
          z.string(),
          z.strictObject({
            ...limits,
            idempotent: z.boolean().optional(),
            readOnly: z.boolean().optional(),
            destructive: destructiveFlag.optional(),
            lane: laneSchema.optional(),
          }),
        )
        .default({})
        .describe('Other limits, flags or a lane for built-in tools, by name.'),
    })
    .default({ disabled: [], overrides: {} }),
})

export type ConfigFile = z.output<typeof configFileSchema>
export type HttpToolConfig = ConfigFile['tools'][number]
export type McpServerConfig = ConfigFile['mcp'][number]
export type OpenApiConfig = ConfigFile['openapi'][number]
export type OpenApiOperationConfig = OpenApiConfig['operations'][string]

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
  return parseYamlFile(configFileSchema, text, source, environment)
}
