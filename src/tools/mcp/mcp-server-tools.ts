import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ToolListChangedNotificationSchema, type Tool as McpTool } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { redactor } from '../../config/secrets.ts'
import type { McpServerConfig } from '../../config/tools-file.ts'
import { describeThrown, ToolError } from '../../errors.ts'
import { mcpCloseTimeoutMs, mcpFirstReconnectDelayMs, mcpMaxReconnectDelayMs, mcpRequestTimeoutMs } from '../../limits.ts'
import type { Logger } from '../../observability/logger.ts'
import type { Tool } from '../tool.ts'

/**
 * One MCP server's tools, kept connected: listed at connection (every page of tools/list), listed
 * again when the server says they changed, called with tools/call. When the server drops, the
 * calls in flight fail (the SDK rejects them), and the connection is made again with backoff.
 */
export class McpServerTools {
  readonly name: string
  readonly #config: McpServerConfig
  readonly #log: Logger
  readonly #onToolsChanged: () => void
  readonly #redact: (text: string) => string
  #client: Client | undefined
  #tools: Tool[] = []
  #connected = false
  #closed = false
  #reconnectDelayMs = mcpFirstReconnectDelayMs
  #reconnectTimer: NodeJS.Timeout | undefined

  /** @param options.secrets values that came from the environment: struck out of every error message */
  constructor(config: McpServerConfig, options: { log: Logger; onToolsChanged: () => void; secrets?: readonly string[] }) {
    this.name = config.name
    this.#config = config
    this.#log = options.log
    this.#onToolsChanged = options.onToolsChanged
    this.#redact = redactor(options.secrets ?? [])
  }

  get connected(): boolean {
    return this.#connected
  }

  /** Its tools as toolgate tools, named `<server>__<tool>`; empty while disconnected. */
  get tools(): Tool[] {
    return this.#connected ? this.#tools : []
  }

  /** Connects and lists the tools; a failure is thrown (at start-up the server refuses to start). */
  async connect(): Promise<void> {
    const client = new Client({ name: 'toolgate', version: '0.1.0' })
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      void this.#list(client).then(
        () => {
          this.#onToolsChanged()
        },
        (error: unknown) => {
          this.#log.warn({ server: this.name, err: error }, 'listing the tools of an MCP server failed')
        },
      )
    })
    client.onclose = () => {
      if (this.#client !== client) return
      this.#connected = false
      this.#onToolsChanged()
      if (!this.#closed) this.#scheduleReconnect()
    }
    await client.connect(this.#transport(), { timeout: mcpRequestTimeoutMs })
    this.#client = client
    await this.#list(client)
    this.#connected = true
    this.#reconnectDelayMs = mcpFirstReconnectDelayMs
  }

  /** Closes the connection; a server that does not let go within mcpCloseTimeoutMs is left behind. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#reconnectTimer)
    const client = this.#client
    if (client === undefined) return
    let timer: NodeJS.Timeout | undefined
    const givenUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, mcpCloseTimeoutMs).unref()
    })
    await Promise.race([client.close(), givenUp])
    clearTimeout(timer)
  }

  #transport() {
    const config = this.#config
    if ('url' in config) return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers ?? {} } })
    return new StdioClientTransport({
      command: config.command,
      args: config.args ?? [],
      ...(config.env ? { env: { ...(process.env as Record<string, string>), ...config.env } } : {}),
      ...(config.cwd ? { cwd: config.cwd } : {}),
      stderr: 'ignore',
    })
  }

  #scheduleReconnect(): void {
    const delayMs = this.#reconnectDelayMs
    this.#reconnectDelayMs = Math.min(mcpMaxReconnectDelayMs, delayMs * 2)
    this.#log.warn({ server: this.name, delayMs }, 'MCP server disconnected; reconnecting')
    this.#reconnectTimer = setTimeout(() => {
      this.connect().then(
        () => {
          this.#log.info({ server: this.name }, 'MCP server reconnected')
          this.#onToolsChanged()
        },
        () => {
          if (!this.#closed) this.#scheduleReconnect()
        },
      )
    }, delayMs)
    this.#reconnectTimer.unref()
  }

  async #list(client: Client): Promise<void> {
    const listed: McpTool[] = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: mcpRequestTimeoutMs })
      listed.push(...page.tools)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    this.#tools = listed.map((tool) => this.#adapt(client, tool))
  }

  #adapt(client: Client, tool: McpTool): Tool {
    const { $schema: _dialect, ...parameters } = tool.inputSchema as Record<string, unknown>
    const {
      name: _name,
      command: _command,
      args: _args,
      env: _env,
      cwd: _cwd,
      url: _url,
      headers: _headers,
      ...limits
    } = this.#config as Record<string, unknown>
    return {
      name: `${this.name}__${tool.name}`,
      description: tool.description ?? tool.title ?? tool.name,
      parameters,
      inputSchema: z.fromJSONSchema(parameters),
      ...(limits as Pick<Tool, 'timeoutMs' | 'attemptTimeoutMs' | 'retries' | 'concurrency'>),
      execute: async (args, { signal }) => {
        if (this.#client !== client || !this.#connected)
          throw new ToolError(`the MCP server ${this.name} is not connected`, { retryable: true })
        let result
        try {
          result = await client.callTool({ name: tool.name, arguments: args as Record<string, unknown> }, undefined, { signal })
        } catch (error) {
          throw new ToolError(this.#redact(`the MCP server ${this.name} failed the call: ${describeThrown(error)}`), { retryable: true })
        }
        const text = (result.content as Array<{ type: string; text?: string }>)
          .flatMap((part) => (part.type === 'text' && part.text !== undefined ? [part.text] : []))
          .join('\n')
        if (result.isError === true) throw new ToolError(this.#redact(text || `${tool.name} reported an error`))
        return result.structuredContent ?? text
      },
    }
  }
}
