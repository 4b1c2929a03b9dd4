import type { Config } from '../config/env.ts'
import { redactor } from '../config/secrets.ts'
import { loadConfigFile } from '../config/tools-file.ts'
import { ConfigFileError } from '../config/yaml-file.ts'
import { describeThrown } from '../errors.ts'
import type { Logger } from '../observability/logger.ts'
import { createBuiltinTools } from './builtin/builtin-tools.ts'
import { createHttpTool } from './http/http-tool.ts'
import { McpServerTools } from './mcp/mcp-server-tools.ts'
import { loadOpenApiTools } from './openapi/openapi-tools.ts'
import { ToolRegistry } from './registry.ts'
import type { Tool } from './tool.ts'

interface Sources {
  /** Tools that do not change until a reload: built-in, HTTP and OpenAPI ones, or those a program gave. */
  fixed: Tool[]
  /** MCP servers, whose tools change when they say so, or disconnect. */
  mcp: McpServerTools[]
}

export interface ToolSourcesOptions {
  log: Logger
  /** The tools to serve instead of the built-in ones and TOOLGATE_CONFIG's (a program embedding toolgate, tests). */
  tools?: Tool[] | undefined
}

/**
 * Where the tools in service come from, and their lifecycle: loaded at start-up from the built-in
 * tools and TOOLGATE_CONFIG's file (HTTP tools, MCP servers), rebuilt into a registry whenever an
 * MCP server's tools change, reloaded whole on demand, and closed. MCP servers replaced by a reload
 * stay connected until the calls that may still use them have passed their deadline.
 */
export class ToolSources {
  readonly #config: Config
  readonly #options: ToolSourcesOptions
  #sources: Sources = { fixed: [], mcp: [] }
  #registry: ToolRegistry
  readonly #retiring = new Set<McpServerTools>()
  readonly #listeners: Array<(registry: ToolRegistry) => void> = []

  private constructor(config: Config, options: ToolSourcesOptions) {
    this.#config = config
    this.#options = options
    this.#registry = new ToolRegistry([])
  }

  /** Loads and connects every source; throws (a ConfigFileError, a ToolDefinitionError) if one is bad or unreachable. */
  static async load(config: Config, options: ToolSourcesOptions): Promise<ToolSources> {
    const sources = new ToolSources(config, options)
    const loaded = options.tools ? { fixed: options.tools, mcp: [] } : await sources.#load()
    sources.#registry = await sources.#registryOf(loaded)
    sources.#sources = loaded
    return sources
  }

  /**
   * Checks the configuration's tools without serving them: the built-in ones, the configuration
   * file and the tools it declares. MCP servers are started and asked for their tools only with
   * `connectMcp` (then closed); without it their names are listed, unchecked.
   */
  static async check(config: Config, options: { log: Logger; connectMcp: boolean }): Promise<{ tools: string[]; mcpUnchecked: string[] }> {
    const sources = new ToolSources(config, { log: options.log })
    const loaded = await sources.#load(options.connectMcp)
    try {
      const registry = await sources.#registryOf(loaded)
      return {
        tools: registry.names,
        mcpUnchecked: options.connectMcp ? [] : loaded.mcp.map((server) => server.name),
      }
    } finally {
      await Promise.all(loaded.mcp.map((server) => server.close()))
    }
  }

  /** The tools in service now, by name. */
  get registry(): ToolRegistry {
    return this.#registry
  }

  /** Tells `listener` of every new registry: when an MCP server's tools change, and after a reload. */
  subscribe(listener: (registry: ToolRegistry) => void): void {
    this.#listeners.push(listener)
  }

  /** The MCP servers of the configuration, and whether each is connected. */
  get mcpServers(): Array<{ name: string; connected: boolean }> {
    return this.#sources.mcp.map((server) => ({ name: server.name, connected: server.connected }))
  }

  /**
   * Rereads TOOLGATE_CONFIG and puts its tools in service; throws, keeping the tools in service,
   * if the file or a tool is invalid or an MCP server cannot be reached. Calls in flight finish
   * on the old definitions, MCP ones too.
   */
  async reload(): Promise<ToolRegistry> {
    const next = this.#options.tools ? { fixed: this.#options.tools, mcp: [] } : await this.#load()
    const registry = await this.#registryOf(next)
    const previous = this.#sources
    this.#sources = next
    this.#use(registry)
    this.#retire(previous.mcp)
    return registry
  }

  /** Closes every MCP connection, the retiring ones too. */
  async close(): Promise<void> {
    const servers = [...this.#sources.mcp, ...this.#retiring]
    this.#retiring.clear()
    await Promise.all(servers.map((server) => server.close()))
  }

  /** A registry of `sources`' tools; if they are refused, their MCP servers are closed and the error thrown. */
  async #registryOf(sources: Sources): Promise<ToolRegistry> {
    try {
      return new ToolRegistry(toolsOf(sources))
    } catch (error) {
      await Promise.all(sources.mcp.map((server) => server.close()))
      throw error
    }
  }

  /** MCP servers may change their tools at any time: the registry is then rebuilt. */
  readonly #toolsChanged = () => {
    try {
      this.#use(new ToolRegistry(toolsOf(this.#sources)))
    } catch (error) {
      this.#options.log.error({ err: error }, 'the changed tools were refused; the tools in service are unchanged')
    }
  }

  #use(registry: ToolRegistry): void {
    this.#registry = registry
    for (const listener of this.#listeners) listener(registry)
  }

  /** Keeps replaced MCP servers connected until the longest deadline of their tools has passed. */
  #retire(servers: McpServerTools[]): void {
    const longestMs = Math.max(this.#config.callTimeoutMs, ...toolsOf({ fixed: [], mcp: servers }).map((tool) => tool.timeoutMs ?? 0))
    for (const server of servers) {
      this.#retiring.add(server)
      setTimeout(() => {
        this.#retiring.delete(server)
        void server.close()
      }, longestMs).unref()
    }
  }

  /**
   * The tools of the configuration: the built-in ones, changed and completed by the configuration
   * file if there is one, and the MCP servers it names, connected.
   */
  async #load(connectMcp = true): Promise<Sources> {
    const config = this.#config
    const builtins = createBuiltinTools(config)
    if (config.configFile === undefined) return { fixed: builtins, mcp: [] }
    const { config: file, secrets } = await loadConfigFile(config.configFile)
    const names = new Set(builtins.map((tool) => tool.name))
    const unknown = [...file.builtins.disabled, ...Object.keys(file.builtins.overrides)].filter((name) => !names.has(name))
    const redact = redactor(secrets)
    if (unknown.length > 0) {
      throw new ConfigFileError(
        redact(`${config.configFile}: builtins: no built-in tool named ${unknown.join(', ')} (there are ${[...names].join(', ')})`),
      )
    }
    const kept = builtins
      .filter((tool) => !file.builtins.disabled.includes(tool.name))
      .map((tool) => ({ ...tool, ...file.builtins.overrides[tool.name] }))
    const mcp = file.mcp.map(
      (server) => new McpServerTools(server, { log: this.#options.log, onToolsChanged: this.#toolsChanged, secrets }),
    )
    const connected = connectMcp ? await Promise.allSettled(mcp.map((server) => server.connect())) : []
    const failures = connected.flatMap((outcome, index) =>
      outcome.status === 'rejected' ? [`${mcp[index]?.name ?? '?'} (${describeThrown(outcome.reason)})`] : [],
    )
    if (failures.length > 0) {
      await Promise.all(mcp.map((server) => server.close()))
      throw new ConfigFileError(redact(`${config.configFile}: MCP server ${failures.join(', ')} could not be reached`))
    }
    const fixed = [...kept, ...file.tools.map((tool) => createHttpTool(tool, secrets))]
    try {
      for (const [index, entry] of file.openapi.entries()) {
        const taken = new Set([...fixed.map((tool) => tool.name), ...mcp.flatMap((server) => server.tools.map((tool) => tool.name))])
        fixed.push(...(await loadOpenApiTools(entry, { configFile: config.configFile, index, secrets, taken })))
      }
    } catch (error) {
      await Promise.all(mcp.map((server) => server.close()))
      throw error
    }
    return { fixed, mcp }
  }
}

/** Every tool the sources have now. */
function toolsOf(sources: Sources): Tool[] {
  return [...sources.fixed, ...sources.mcp.flatMap((server) => server.tools)]
}
