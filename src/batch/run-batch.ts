import type { Logger } from '../observability/logger.ts'
import { assertProvider, type DecodedPayload, type ProviderName, type ToolMessage } from '../providers/index.ts'
import { checkBatch } from './check-batch.ts'
import type { ExecutionMode, Executor } from './executor.ts'
import type { BatchObserver } from './observer.ts'
import type { CallGate } from './prepare-call.ts'
import { formatReply, formatVerdicts, type ExecuteReply, type ValidateReply } from './format-reply.ts'

export interface BatchRequest {
  /** The body, decoded by the provider payload schema. */
  payload: DecodedPayload
  /** The provider the client says the payload comes from (`?format=`); a payload of another is refused. */
  format?: ProviderName | undefined
  /** `validate` checks every call and runs none. @default 'parallel' */
  mode?: ExecutionMode | 'validate'
  /** The tools the caller may call; the others are answered forbidden_tool. @default every tool */
  allowedTools?: ReadonlySet<string> | undefined
  /** Aborting it cancels the batch's calls (the client went away). */
  signal?: AbortSignal | undefined
  log: Logger
  /** Told of each call and of the batch's end: the call log, metrics, tracing, a streamed reply. */
  observer?: BatchObserver | undefined
  /** The request's approvals: what holds a call for a human's decision, or runs it on one. */
  approvals?: CallGate | undefined
}

/**
 * The one way a batch runs, over HTTP or not: the provider check, the batch check (how many calls,
 * no id twice), then validation or execution, and the reply in the payload's provider format.
 * Throws a RequestError when the batch is refused whole; its observer is told first.
 */
export async function runBatch(executor: Executor, request: BatchRequest): Promise<ExecuteReply<ToolMessage> | ValidateReply> {
  const { payload, observer } = request
  try {
    if (request.format !== undefined) assertProvider(payload, request.format)
    const calls = checkBatch(payload.calls, executor.maxCallsPerBatch)
    if (request.mode === 'validate') return formatVerdicts(executor.validate(calls, request.allowedTools))
    const batch = await executor.execute(calls, {
      mode: request.mode ?? 'parallel',
      signal: request.signal,
      log: request.log,
      allowedTools: request.allowedTools,
      observer,
      approvals: request.approvals,
    })
    return formatReply(batch, payload.provider)
  } catch (error) {
    observer?.batchFailed?.(error)
    throw error
  }
}
