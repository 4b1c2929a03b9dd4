import { z } from 'zod'
import { mcpServerNamePattern, mcpServerNameRule, toolNamePattern, toolNameRule } from '../limits.ts'
import { loadYamlFile, parseYamlFile } from './yaml-file.ts'

const positiveInt = z.int().positive()
const limits = {
  timeoutMs: positiveInt.optional().describe('Deadline of a call, retries included.'),
  attemptTimeoutMs: positiveInt.optional().describe('Deadline of one attempt.'),
  retries: z.int().min(0).max(10).optional().describe('Further attempts after a retryable failure.'),
  concurrency: positiveInt.optional().describe('Calls of this tool running at once.'),
}

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
