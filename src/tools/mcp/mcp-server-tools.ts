import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import {
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
  type ContentBlock as McpContentBlock,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { redactor } from '../../config/secrets.ts'
import type { McpServerConfig } from '../../config/tools-file.ts'
import { describeThrown, ToolError } from '../../errors.ts'
import {
  mcpCloseTimeoutMs,
  mcpFirstReconnectDelayMs,
  mcpMaxReconnectDelayMs,
  mcpRequestTimeoutMs,
  mcpSessionCheckTimeoutMs,
} from '../../limits.ts'
import type { Logger } from '../../observability/logger.ts'
import { RichContent, type ContentBlock } from '../content.ts'
import type { Tool } from '../tool.ts'

type CallResult = Awaited<ReturnType<Client['callTool']>>

/**
 * One MCP server's tools, kept connected: listed at connection (every page of tools/list), listed
 * again when the server says they changed, called with tools/call. When the server drops, the
 * calls in flight fail (the SDK rejects them), and the connection is made again with backoff.
 *
 * A Streamable HTTP server does not drop a connection: it stops answering, or answers that it does
 * not know the session (it restarted). Either is noticed on a failed call or a broken event stream,
 * and checked with a ping: a forgotten session is replaced by a new one at once, and the failed call
 * made again on it if the tool is idempotent or read-only (see flagsOf); an unreachable server counts
 * as disconnected until a reconnection succeeds.
 *
 * A call of a keyed batch (`context.idempotencyKey`) carries its key in the tools/call request's
 * `_meta`, as `{ "io.toolgate/idempotency-key": key }`, the same on every attempt.
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
  /** The check of a failed Streamable HTTP session under way, shared by every call that failed on it. */
  #sessionCheck: Promise<Client | undefined> | undefined

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

  /** Connects (a new session) and lists the tools; a failure is thrown (at start-up the server refuses to start). */
  async connect(timeoutMs = mcpRequestTimeoutMs): Promise<void> {
    const client = this.#newClient()
    await client.connect(this.#transport(), { timeout: timeoutMs })
    let tools: Tool[]
    try {
      tools = await this.#list(client, timeoutMs)
    } catch (error) {
      void client.close()
      throw error
    }
    if (this.#closed) {
      void client.close()
      throw new Error(`the MCP server ${this.name} was closed while connecting`)
    }
    const previous = this.#client
    this.#client = client
    this.#tools = tools
    this.#connected = true
    this.#reconnectDelayMs = mcpFirstReconnectDelayMs
    if (previous !== undefined) void previous.close()
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

  #newClient(): Client {
    const client = new Client({ name: 'toolgate', version: '0.1.0' })
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      void this.#list(client, mcpRequestTimeoutMs).then(
        (tools) => {
          if (this.#client !== client) return
          this.#tools = tools
          this.#onToolsChanged()
        },
        (error: unknown) => {
          this.#log.warn({ server: this.name, err: error }, 'listing the tools of an MCP server failed')
        },
      )
    })
    client.onclose = () => {
      this.#lost(client)
    }
    // The SDK reports a broken event stream (the server went away) only here.
    if ('url' in this.#config) {
      client.onerror = () => {
        void this.#checkSession(client)
      }
    }
    return client
  }

  #transport() {
    const config = this.#config
    if ('url' in config) return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers ?? {} } })
    return new StdioClientTransport({
      command: config.command,
      args: config.args ?? [],
      // What the server is given, never toolgate's own environment (its keys, its secrets).
      env: { ...getDefaultEnvironment(), ...config.env },
      ...(config.cwd ? { cwd: config.cwd } : {}),
      stderr: 'ignore',
    })
  }

  /** The connection of `client` is gone: its tools are out of service until a reconnection succeeds. */
  #lost(client: Client): void {
    if (this.#client !== client || !this.#connected) return
    this.#connected = false
    this.#onToolsChanged()
    if (!this.#closed) this.#scheduleReconnect()
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

  /**
   * After the Streamable HTTP connection of `failed` failed: the client to call now. That is
   * `failed` itself if the server still answers on its session; a new session's if it forgot that
   * one (it restarted: 404, or 400 for an unknown session); undefined if the server cannot be
   * reached, which puts it out of service until a reconnection succeeds.
   */
  #checkSession(failed: Client): Promise<Client | undefined> {
    if (this.#client !== failed || !this.#connected) return Promise.resolve(this.#connected ? this.#client : undefined)
    this.#sessionCheck ??= this.#pingOrRenew(failed).finally(() => {
      this.#sessionCheck = undefined
    })
    return this.#sessionCheck
  }

  async #pingOrRenew(client: Client): Promise<Client | undefined> {
    try {
      await client.ping({ timeout: mcpSessionCheckTimeoutMs })
      return client
    } catch (error) {
      if (answeredByServer(error)) return client
    }
    try {
      await this.connect(mcpSessionCheckTimeoutMs)
      this.#log.warn({ server: this.name }, 'MCP server had lost its session; a new one is open')
      this.#onToolsChanged()
      return this.#client
    } catch (error) {
      this.#log.warn({ server: this.name, err: error }, 'MCP server unreachable')
      this.#lost(client)
      void client.close()
      return undefined
    }
  }

  async #list(client: Client, timeoutMs: number): Promise<Tool[]> {
    const listed: McpTool[] = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs })
      listed.push(...page.tools)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    const unlisted = Object.keys(this.#config.tools ?? {}).filter((name) => !listed.some((tool) => tool.name === name))
    if (unlisted.length > 0)
      this.#log.warn({ server: this.name, tools: unlisted }, 'the configuration names tools this MCP server does not list')
    return listed.map((tool) => this.#adapt(tool))
  }

  #adapt(tool: McpTool): Tool {
    const { $schema: _dialect, ...parameters } = tool.inputSchema as Record<string, unknown>
    const {
      name: _name,
      command: _command,
      args: _args,
      env: _env,
      cwd: _cwd,
      url: _url,
      headers: _headers,
      idempotent: _idempotent,
      readOnly: _readOnly,
      destructive: _destructive,
      tools: _tools,
      ...limits
    } = this.#config as Record<string, unknown>
    const override = this.#config.tools?.[tool.name]
    const flags = flagsOf(tool, this.#config)
    const call: McpCall = { tool: tool.name, repeatable: flags.idempotent }
    return {
      name: `${this.name}__${tool.name}`,
      description: tool.description ?? tool.title ?? tool.name,
      parameters,
      inputSchema: z.fromJSONSchema(parameters),
      ...(limits as Pick<Tool, 'timeoutMs' | 'attemptTimeoutMs' | 'retries' | 'concurrency'>),
      ...flags,
      ...(override?.lane === undefined ? {} : { lane: override.lane }),
      execute: async (args, { signal, idempotencyKey }) =>
        this.#output(tool, await this.#call(call, paramsOf(tool.name, args as Record<string, unknown>, idempotencyKey), signal)),
    }
  }

  async #call(call: McpCall, params: CallParams, signal: AbortSignal): Promise<CallResult> {
    const client = this.#connected ? this.#client : undefined
    if (client === undefined) throw new ToolError(`the MCP server ${this.name} is not connected`, { retryable: true })
    try {
      return await client.callTool(params, undefined, { signal })
    } catch (error) {
      if (!('url' in this.#config) || signal.aborted || answeredByServer(error)) throw this.#failedCall(error, call)
      return this.#callOnRecovered(client, call, params, signal, error)
    }
  }

  /** After the Streamable HTTP call on `client` failed with `error`: the call made again (the same params, key included) on a new session when that is safe. */
  async #callOnRecovered(client: Client, call: McpCall, params: CallParams, signal: AbortSignal, error: unknown) {
    const next = await untilAborted(this.#checkSession(client), signal)
    if (next === undefined) {
      throw new ToolError(this.#redact(`the MCP server ${this.name} cannot be reached: ${describeThrown(error)}`), {
        retryable: call.repeatable,
      })
    }
    if (next === client) throw this.#failedCall(error, call)
    if (!call.repeatable) {
      throw new ToolError(
        `the MCP server ${this.name} had lost its session (it restarted) and a new one is open; ${call.tool} was not sent again, since it is not marked idempotent or read-only`,
      )
    }
    try {
      return await next.callTool(params, undefined, { signal })
    } catch (retryError) {
      throw this.#failedCall(retryError, call)
    }
  }

  /** A call that was sent and failed: it may have taken effect, so it is retried only if its tool may run twice. */
  #failedCall(error: unknown, call: McpCall): ToolError {
    return new ToolError(this.#redact(`the MCP server ${this.name} failed the call: ${describeThrown(error)}`), {
      retryable: call.repeatable,
    })
  }

  /**
   * A tools/call result as content blocks: what the model reads (structuredContent, when there, as
   * its JSON text in place of the text blocks, as the spec has them repeat it), and the whole result
   * for `results[].output`. isError is the call's error, its text the message.
   */
  #output(tool: McpTool, result: CallResult): RichContent {
    const content = ('content' in result ? result.content : []) as McpContentBlock[]
    if (result.isError === true) {
      const text = content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n')
      throw new ToolError(this.#redact(text || `${tool.name} reported an error`))
    }
    const blocks = content.flatMap((block) => toContentBlock(block))
    const structured = result.structuredContent
    if (structured === undefined) return new RichContent(blocks, result)
    const notText = blocks.filter((block) => block.type !== 'text')
    return new RichContent([{ type: 'text', text: JSON.stringify(structured) }, ...notText], result)
  }
}

/** An MCP content block as toolgate's, without the annotations and _meta the model is not shown. */
function toContentBlock(block: McpContentBlock): ContentBlock[] {
  switch (block.type) {
    case 'text':
      return [{ type: 'text', text: block.text }]
    case 'image':
    case 'audio':
      return [{ type: block.type, data: block.data, mimeType: block.mimeType }]
    case 'resource': {
      const { uri, mimeType } = block.resource
      const typed = mimeType === undefined ? {} : { mimeType }
      if ('blob' in block.resource && typeof block.resource.blob === 'string') {
        return [{ type: 'resource', resource: { uri, ...typed, blob: block.resource.blob } }]
      }
      const text = 'text' in block.resource && typeof block.resource.text === 'string' ? block.resource.text : ''
      return [{ type: 'resource', resource: { uri, ...typed, text } }]
    }
    case 'resource_link': {
      const { uri, name, title, mimeType, description, size } = block
      return [
        {
          type: 'resource_link',
          uri,
          name,
          ...(title === undefined ? {} : { title }),
          ...(mimeType === undefined ? {} : { mimeType }),
          ...(description === undefined ? {} : { description }),
          ...(size === undefined ? {} : { size }),
        },
      ]
    }
    default:
      return []
  }
}

/** The SDK's own McpError codes for an answer that never came. */
const unansweredCodes: readonly number[] = [ErrorCode.ConnectionClosed, ErrorCode.RequestTimeout]

/** Whether `error` is the server's own JSON-RPC answer (it is there, and knows the session), not a failure to reach it. */
function answeredByServer(error: unknown): boolean {
  return error instanceof McpError && !unansweredCodes.includes(error.code)
}

/** What tools/call is sent: the tool's name, its arguments and, for a keyed call, the key in `_meta`. */
type CallParams = Parameters<Client['callTool']>[0]

/** A tool of the server, as a call on a new session needs it: its MCP name, and whether it may be sent twice. */
interface McpCall {
  tool: string
  repeatable: boolean
}

/** The `_meta` key under which a keyed call's idempotency key is sent (a prefixed name, as the MCP spec asks of custom keys). */
export const idempotencyKeyMeta = 'io.toolgate/idempotency-key'

function paramsOf(name: string, args: Record<string, unknown>, idempotencyKey: string | undefined): CallParams {
  if (idempotencyKey === undefined) return { name, arguments: args }
  return { name, arguments: args, _meta: { [idempotencyKeyMeta]: idempotencyKey } }
}

/**
 * What `tool` declares of its effects: for each flag, the server entry's `tools.<name>` override,
 * else the server-wide flag, each when given (true or false), else the tool's own annotation.
 * Annotations are the server's word (the MCP spec says not to trust those of an untrusted server),
 * so the operator's configuration overrides them, both ways. readOnly implies idempotent:
 * `idempotent: false` (or `destructive: true`) alone also disregards readOnlyHint, and
 * `readOnly: true` makes the tool idempotent whatever `idempotent` says. A read-only tool is not
 * destructive unless its own entry says so (which the registry refuses). An absent destructiveHint
 * is taken as the MCP spec defaults it: destructive, unless the tool is read-only.
 */
function flagsOf(tool: McpTool, config: McpServerConfig): { idempotent: boolean; readOnly: boolean; destructive: boolean } {
  const override = config.tools?.[tool.name]
  const hints = tool.annotations
  const idempotentSet = override?.idempotent ?? config.idempotent
  const destructiveSet = override?.destructive ?? config.destructive
  // A tool's own `idempotent: false` or `destructive: true` says it is not read-only, whatever the server-wide readOnly says.
  const notReadOnly = override?.idempotent === false || override?.destructive === true ? false : undefined
  const readOnly =
    override?.readOnly ??
    notReadOnly ??
    config.readOnly ??
    (idempotentSet !== false && destructiveSet !== true && hints?.readOnlyHint === true)
  const idempotent = readOnly || (idempotentSet ?? hints?.idempotentHint === true)
  const destructive = override?.destructive ?? (!readOnly && (config.destructive ?? hints?.destructiveHint !== false))
  return { idempotent, readOnly, destructive }
}

/** What `promise` settles with, or the abort's reason as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort)
    })
  })
}
