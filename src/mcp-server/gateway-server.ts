import { Server, TRACEPARENT_META_KEY, TRACESTATE_META_KEY, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server'
import packageJson from '../../package.json' with { type: 'json' }
import type { Caller } from '../access/api-keys.ts'
import type { Executor } from '../batch/executor.ts'
import type { CallGate } from '../batch/prepare-call.ts'
import type { BatchObserver } from '../batch/observer.ts'
import { RequestError } from '../errors.ts'
import type { Executions } from '../executions/executions.ts'
import { idempotencyKeyOf } from '../executions/request-headers.ts'
import { mcpProgressIntervalMs } from '../limits.ts'
import type { Logger } from '../observability/logger.ts'
import { openaiChat } from '../providers/openai-chat.ts'
import type { RawToolCall } from '../providers/provider.ts'
import { errorResult, toCallToolResult } from './call-tool-result.ts'
import { listTools } from './tool-list.ts'

/** Where a tools/call's idempotency key travels: the key toolgate itself sends to the MCP tools it calls. */
export const idempotencyKeyMeta = 'io.toolgate/idempotency-key'

/** What the MCP server needs of the gateway: the same executor, state and observers as POST /execute. Usable without HTTP. */
export interface McpGateway {
  readonly executor: Executor
  readonly executions: Executions
  /** The longest a keyed call is waited for (TOOLGATE_MAX_WAIT_SECONDS). */
  readonly maxWaitMs: number
  readonly log: Logger
  /**
   * What a tools/call meets of approvals: MCP carries no decisions, so a call that needs one
   * (its tool's policy, or the caller's key) is answered approval_unavailable, never run.
   */
  approvalsFor(caller: McpCaller): CallGate
  /** The call log, the metrics and the trace of one tools/call, as for a batch of one. */
  observe(call: RawToolCall, trace: Record<string, string | undefined>): BatchObserver | undefined
}

/** Who the MCP client is: its API key's caller, or (no keys configured, stdio) anyone. */
export type McpCaller = Pick<Caller, 'name' | 'tools' | 'approve'>

export const anyCaller: McpCaller = { name: 'anonymous', tools: undefined, approve: undefined }

/**
 * The registry as an MCP server, for one caller: tools/list shows the tools its key may call,
 * tools/call runs one through the executor as a batch of one call (validation, queue, per-tool
 * concurrency, timeouts, retries, result limits, metrics and traces, and with an idempotency key
 * in `_meta` the at-most-once guarantee of a keyed batch). A failed call, and a request the gateway
 * refuses (queue_full...), is an `isError` result with toolgate's code and message.
 *
 * It is the SDK's low-level Server, not McpServer: the tools are toolgate's registry, listed per
 * caller and validated by toolgate's own schemas (with its codes), not registered one by one.
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated
export function createGatewayServer(gateway: McpGateway, caller: McpCaller): Server {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const server = new Server(
    { name: 'toolgate', version: packageJson.version },
    {
      capabilities: { tools: { listChanged: true } },
      instructions: 'Tools run by toolgate: each call is validated, queued, timed out and retried by the gateway.',
    },
  )
  server.setRequestHandler('tools/list', () => ({ tools: listTools(gateway.executor.registry, caller.tools) }))
  server.setRequestHandler('tools/call', async (request, context) => {
    const { name, arguments: args } = request.params
    const meta: Record<string, unknown> | undefined = context.mcpReq._meta
    const stopProgress = reportProgress(context)
    try {
      const key = keyOf(meta?.[idempotencyKeyMeta])
      // A keyed call is recorded by its name and arguments: a retry under a new JSON-RPC id is the same call.
      const call: RawToolCall = {
        id: key === undefined ? `mcp-${String(context.mcpReq.id)}` : 'mcp',
        name,
        arguments: args ?? {},
        path: 'params',
      }
      // W3C trace context travels in _meta (SEP-414), as HTTP's traceparent header would.
      const trace = { traceparent: stringOf(meta?.[TRACEPARENT_META_KEY]), tracestate: stringOf(meta?.[TRACESTATE_META_KEY]) }
      const observer = gateway.observe(call, trace)
      return await (key === undefined
        ? run(gateway, caller, call, context.mcpReq.signal, observer)
        : runKeyed(gateway, caller, call, key, observer))
    } catch (error) {
      if (error instanceof RequestError) return errorResult(error.code, error.message)
      throw error
    } finally {
      stopProgress()
    }
  })
  return server
}

async function run(
  gateway: McpGateway,
  caller: McpCaller,
  call: RawToolCall,
  signal: AbortSignal,
  observer: BatchObserver | undefined,
): Promise<CallToolResult> {
  try {
    const batch = await gateway.executor.execute([call], {
      signal,
      log: gateway.log,
      allowedTools: caller.tools,
      approvals: gateway.approvalsFor(caller),
      observer,
    })
    const answered = batch.calls[0]
    if (answered === undefined) throw new Error('invariant broken: a tools/call was left without its answer')
    return toCallToolResult(answered)
  } catch (error) {
    observer?.batchFailed?.(error)
    throw error
  }
}

/** A call with an idempotency key: run at most once across retries (and replicas sharing Redis), as a keyed batch is. */
async function runKeyed(
  gateway: McpGateway,
  caller: McpCaller,
  call: RawToolCall,
  key: string,
  observer: BatchObserver | undefined,
): Promise<CallToolResult> {
  const answer = await gateway.executions.run({
    payload: { provider: openaiChat, shape: 'mcp tools/call', calls: [call] },
    owner: caller.name,
    key,
    waitMs: gateway.maxWaitMs,
    allowedTools: caller.tools,
    approvals: { digest: undefined, within: () => gateway.approvalsFor(caller) },
    log: gateway.log,
    observer,
  })
  const answered = answer.calls[0]
  if (answered === undefined) throw new Error('invariant broken: a keyed tools/call was left without its answer')
  return toCallToolResult(answered)
}

function keyOf(value: unknown): string | undefined {
  const where = { name: `_meta["${idempotencyKeyMeta}"]`, path: `params._meta.${idempotencyKeyMeta}` }
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new RequestError('invalid_idempotency_key', `${where.name} must be a string.`, { path: where.path })
  return idempotencyKeyOf(value, where)
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/**
 * For a client that sent a progressToken: a progress notification at once and then every second
 * while the call runs, its progress the milliseconds elapsed (so that a client resetting its
 * timeout on progress does not give up on a long call). Returns what stops it.
 */
function reportProgress(context: ServerContext): () => void {
  const token = context.mcpReq._meta?.progressToken
  if (token === undefined) return () => undefined
  const started = performance.now()
  const tell = (message: string) => {
    const progress = Math.round(performance.now() - started)
    context.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress, message } }).catch(() => undefined)
  }
  tell('the call was taken up')
  const timer = setInterval(() => {
    tell('the call is still running')
  }, mcpProgressIntervalMs)
  return () => {
    clearInterval(timer)
  }
}
