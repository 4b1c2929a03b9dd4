import { randomUUID } from 'node:crypto'
import {
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo,
  type McpHttpHandler,
  type Server,
} from '@modelcontextprotocol/server'
import { describeThrown } from '../errors.ts'
import { isRecord } from '../providers/provider.ts'
import { createGatewayServer, type McpCaller, type McpGateway } from './gateway-server.ts'

export interface McpHttpOptions {
  /** Sessions of 2025-era clients kept at once; past it, the one idle longest is closed. */
  maxSessions: number
  /** A session idle for this long is closed. */
  sessionIdleMs: number
}

/** A 2025-era session: its transport and server, whose caller it belongs to, when it was last used, and its requests' open streams. */
interface Session {
  transport: WebStandardStreamableHTTPServerTransport
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- what createGatewayServer makes
  server: Server
  owner: string
  usedAt: number
  /** What ends the event stream of each request still unanswered, by its JSON-RPC id. */
  streams: Map<string, () => void>
}

/**
 * The registry served over MCP's Streamable HTTP transport, both revisions the SDK speaks:
 * 2026-07-28 (stateless, a server per request: createMcpHandler) and the 2025 revisions, which
 * open a session (initialize, then Mcp-Session-Id on every request) so that a client's
 * notifications/cancelled reaches the call it cancels. Sessions are bounded in number and idle
 * time, and each belongs to the caller that opened it: another key's request for it is told there
 * is no such session. Authentication and Origin checks are the gateway's, done before this.
 */
export class McpHttpEndpoint {
  readonly #gateway: McpGateway
  readonly #options: McpHttpOptions
  readonly #modern: McpHttpHandler
  /** In the order of their last use: the first is the one idle longest. */
  readonly #sessions = new Map<string, Session>()
  readonly #sweeper: NodeJS.Timeout
  /** What ends each listening stream open now. */
  readonly #listening = new Set<() => void>()

  constructor(gateway: McpGateway, options: McpHttpOptions) {
    this.#gateway = gateway
    this.#options = options
    this.#modern = createMcpHandler(({ authInfo }) => createGatewayServer(gateway, callerOf(authInfo)), {
      legacy: 'reject',
      onerror: (error) => {
        gateway.log.debug({ err: error }, 'an MCP request was refused')
      },
    })
    this.#sweeper = setInterval(
      () => {
        this.#closeIdle()
      },
      Math.min(60_000, Math.max(1_000, options.sessionIdleMs / 2)),
    )
    this.#sweeper.unref()
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size
  }

  /**
   * Serves one HTTP request of an MCP client whose body (a POST's) the gateway has parsed already.
   * A stream that only listens for the server's notifications (a session's GET, a
   * subscriptions/listen) is kept track of, for drain() to end.
   */
  async handle(request: Request, caller: McpCaller, parsedBody: unknown): Promise<Response> {
    const response = await this.#serve(request, caller, parsedBody)
    const listens = request.method === 'GET' || (isRecord(parsedBody) && parsedBody.method === 'subscriptions/listen')
    return listens ? this.#tracked(response) : response
  }

  /**
   * Ends the streams that only listen (a client would hold the gateway's close back with them
   * forever); the calls in flight go on to their answers. Their clients reconnect elsewhere.
   */
  drain(): void {
    for (const end of this.#listening) end()
    this.#listening.clear()
  }

  async #serve(request: Request, caller: McpCaller, parsedBody: unknown): Promise<Response> {
    const authInfo = authInfoOf(caller)
    if (!(await isLegacyRequest(request, request.method === 'POST' ? parsedBody : undefined))) {
      return this.#modern.fetch(request, { authInfo, parsedBody })
    }
    const sessionId = request.headers.get('mcp-session-id')
    if (sessionId === null) {
      if (request.method === 'POST' && isInitializeRequest(parsedBody)) return this.#open(request, caller, parsedBody)
      return jsonRpcError(400, -32000, 'Bad Request: this request needs the Mcp-Session-Id of an initialized session')
    }
    const session = this.#sessions.get(sessionId)
    if (session === undefined || session.owner !== caller.name) {
      return jsonRpcError(404, -32001, 'Session not found: it expired or was closed; initialize a new one')
    }
    session.usedAt = Date.now()
    this.#sessions.delete(sessionId)
    this.#sessions.set(sessionId, session)
    return endedOnCancel(session, parsedBody, await session.transport.handleRequest(request, { authInfo, parsedBody }))
  }

  /** Tells the clients listening that the tools changed (a reload, an MCP server's own change). */
  toolsChanged(): void {
    this.#modern.notify.toolsChanged()
    for (const session of this.#sessions.values()) {
      session.server.sendToolListChanged().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    const sessions = [...this.#sessions.values()]
    this.#sessions.clear()
    await Promise.all([this.#modern.close(), ...sessions.map(async (session) => session.server.close())])
  }

  async #open(request: Request, caller: McpCaller, parsedBody: unknown): Promise<Response> {
    const server = createGatewayServer(this.#gateway, caller)
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        this.#makeRoom()
        this.#sessions.set(id, { transport, server, owner: caller.name, usedAt: Date.now(), streams: new Map() })
      },
      onsessionclosed: (id) => {
        this.#sessions.delete(id)
      },
    })
    await server.connect(transport)
    return transport.handleRequest(request, { authInfo: authInfoOf(caller), parsedBody })
  }

  /** The response, its body made one that drain() can end. */
  #tracked(response: Response): Response {
    if (response.body === null) return response
    const ending = () => {
      this.#listening.delete(ending)
      end()
    }
    const { stream, end } = endable(response.body, () => this.#listening.delete(ending))
    this.#listening.add(ending)
    return withBody(response, stream)
  }

  /** Closes sessions, the one idle longest first, until there is room for one more; one waiting for an answer goes last. */
  #makeRoom(): void {
    while (this.#sessions.size >= this.#options.maxSessions) {
      const idle = [...this.#sessions].find(([, session]) => session.streams.size === 0)?.[0]
      const id = idle ?? this.#sessions.keys().next().value
      if (id === undefined) return
      this.#closeSession(id, 'the most sessions are open (TOOLGATE_MCP_MAX_SESSIONS); the one idle longest was closed')
    }
  }

  /** Closes the sessions unused for TOOLGATE_MCP_SESSION_IDLE_SECONDS, but not one whose call is still running. */
  #closeIdle(): void {
    const idleSince = Date.now() - this.#options.sessionIdleMs
    for (const [id, session] of this.#sessions) {
      if (session.usedAt > idleSince) return
      if (session.streams.size === 0) this.#closeSession(id, 'idle past TOOLGATE_MCP_SESSION_IDLE_SECONDS')
    }
  }

  #closeSession(id: string, why: string): void {
    const session = this.#sessions.get(id)
    this.#sessions.delete(id)
    if (session === undefined) return
    this.#gateway.log.info({ mcpSession: id, caller: session.owner }, `MCP session closed: ${why}`)
    session.server.close().catch((error: unknown) => {
      this.#gateway.log.warn({ mcpSession: id, error: describeThrown(error) }, 'an MCP session did not close cleanly')
    })
  }
}

/** The caller travels to the per-request server factory in the SDK's authInfo, which it passes through untouched. */
function authInfoOf(caller: McpCaller): AuthInfo {
  return { token: '', clientId: caller.name, scopes: [], extra: { caller } }
}

function callerOf(authInfo: AuthInfo | undefined): McpCaller {
  const caller = authInfo?.extra?.caller as McpCaller | undefined
  if (caller === undefined) throw new Error('invariant broken: an MCP request reached its server without its caller')
  return caller
}

/**
 * A 2025 session's response to one request, made one that ends when the request is cancelled:
 * MCP has a cancelled request go unanswered, and the SDK's transport would then hold its event
 * stream open until the client left (and the gateway's close with it).
 */
function endedOnCancel(session: Session, message: unknown, response: Response): Response {
  if (!isRecord(message)) return response
  if (message.method === 'notifications/cancelled') {
    const id = isRecord(message.params) ? message.params.requestId : undefined
    if (typeof id === 'string' || typeof id === 'number') session.streams.get(String(id))?.()
    return response
  }
  const isRequest = typeof message.method === 'string' && (typeof message.id === 'string' || typeof message.id === 'number')
  if (!isRequest || response.body === null || response.headers.get('content-type')?.startsWith('text/event-stream') !== true)
    return response
  const id = String(message.id)
  const { stream, end } = endable(response.body, () => session.streams.delete(id))
  session.streams.set(id, end)
  return withBody(response, stream)
}

function withBody(response: Response, body: ReadableStream<Uint8Array>): Response {
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/**
 * `body` passed through, and what ends it early: the stream closes (its reader sees its end), and
 * `body` is cancelled. `ended` is told once, however it ends.
 */
function endable(body: ReadableStream<Uint8Array>, ended: () => void): { stream: ReadableStream<Uint8Array>; end: () => void } {
  const reader = body.getReader()
  let done = false
  const finish = () => {
    if (done) return false
    done = true
    ended()
    return true
  }
  let control: ReadableStreamDefaultController<Uint8Array> | undefined
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      control = controller
    },
    async pull(controller) {
      const chunk = await reader.read()
      if (done) return
      if (chunk.done) {
        finish()
        controller.close()
      } else controller.enqueue(chunk.value)
    },
    cancel: (reason) => {
      finish()
      return reader.cancel(reason)
    },
  })
  return {
    stream,
    end: () => {
      if (!finish()) return
      control?.close()
      reader.cancel().catch(() => undefined)
    },
  }
}

function jsonRpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status })
}
