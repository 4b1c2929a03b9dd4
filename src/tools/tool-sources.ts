import type { Config } from '../config/env.ts'
import { ConfigFileError, loadConfigFile, redactor } from '../config/tools-file.ts'
import { describeThrown } from '../errors.ts'
import { createHttpTool } from './http/http-tool.ts'
import type { Logger } from '../observability/logger.ts'
import { McpServerTools } from './mcp/mcp-server-tools.ts'
import type { Tool } from './tool.ts'
import { createBuiltinTools } from './builtin/builtin-tools.ts'

/** Where a server's tools come from: a fixed set, and MCP servers whose tools may change. */
export interface ToolSources {
  fixed: Tool[]
  mcp: McpServerTools[]
}

/** Every tool the sources have now. */
export function currentTools(sources: ToolSources): Tool[] {
  return [...sources.fixed, ...sources.mcp.flatMap((server) => server.tools)]
}

/**
 * The tools a server starts (or reloads) with: the built-in ones, changed and completed by the
 * configuration file if there is one, and the MCP servers it names, connected.
 */
export async function loadToolSources(config: Config, options: { log: Logger; onToolsChanged: () => void }): Promise<ToolSources> {
  const builtins = createBuiltinTools(config)
  if (config.configFile === undefined) return { fixed: builtins, mcp: [] }
  const { config: file, secrets } = await loadConfigFile(config.configFile)
  const names = new Set(builtins.map((tool) => tool.name))
  const unknown = [...file.builtins.disabled, ...Object.keys(file.builtins.overrides)].filter((name) => !names.has(name))
  const redact = redactor(secrets)
  if (unknown.length > 0) {
    throw new ConfigFileError(redact(`${config.configFile}: builtins: no built-in tool named ${unknown.join(', ')} (there are ${[...names].join(', ')})`))
  }
  const kept = builtins
    .filter((tool) => !file.builtins.disabled.includes(tool.name))
    .map((tool) => ({ ...tool, ...file.builtins.overrides[tool.name] }))
  const mcp = file.mcp.map((server) => new McpServerTools(server, { ...options, secrets }))
  const connected = await Promise.allSettled(mcp.map((server) => server.connect()))
  const failures = connected.flatMap((outcome, index) =>
    outcome.status === 'rejected' ? [`${mcp[index]?.name ?? '?'} (${describeThrown(outcome.reason)})`] : [],
  )
  if (failures.length > 0) {
    await Promise.all(mcp.map((server) => server.close()))
    throw new ConfigFileError(redact(`${config.configFile}: MCP server ${failures.join(', ')} could not be reached`))
  }
  return { fixed: [...kept, ...file.tools.map((tool) => createHttpTool(tool, secrets))], mcp }
}
