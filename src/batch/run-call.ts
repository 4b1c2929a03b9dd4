import { CallError, describeThrown } from '../errors.ts'
import { maxErrorMessageChars } from '../limits.ts'
import type { Logger } from '../observability/logger.ts'
import type { Tool, ToolContext } from '../tools/tool.ts'
import { backoffDelayMs, sleep, type BackoffPolicy } from './backoff.ts'
import { CancelScope } from './cancel-scope.ts'
import { fitResult, type FittedResult } from './fit-result.ts'

export interface CallPolicy extends BackoffPolicy {
  /** Deadline of the whole call, retries and backoff included. */
  timeoutMs: number
  /** Deadline of one attempt; only armed when shorter than the call's. */
  attemptTimeoutMs: number
  retries: number
  /** Largest content the model reads; a longer result is cut to fit and marked. */
  maxResultBytes: number
  /** Counts the tools still running after their call was answered (they ignored their signal). */
  abandoned?: AbandonedCount
}

/** Tools still running after their call was answered; the executor refuses work past a limit of them. */
export interface AbandonedCount {
  count: number
}

export type CallOutcome =
  | (FittedResult & { ok: true; attempts: number; durationMs: number })
  | { ok: false; error: CallError; attempts: number; durationMs: number }

type AttemptOutcome = { ok: true; output: unknown } | { ok: false; error: CallError }

/**
 * Runs one validated call to its end: attempts under a deadline, retries of retryable failures
 * with backoff, all inside the deadline. At the deadline the call is answered `timeout` even if
 * the tool ignores its signal, so a stuck tool never holds its slot. Never rejects.
 */
export async function runCall(
  tool: Tool,
  args: unknown,
  options: { callId: string; scope: CancelScope; log: Logger; policy: CallPolicy },
): Promise<CallOutcome> {
  const { policy, log, callId } = options
  const started = performance.now()
  const deadline = new CancelScope(options.scope)
  const timer = setTimeout(() => {
    deadline.abort(new CallError('timeout', `${tool.name} did not finish within its deadline of ${String(policy.timeoutMs)} ms`))
  }, policy.timeoutMs)
  let attempts = 0
  const finish = (outcome: AttemptOutcome): CallOutcome => {
    const durationMs = performance.now() - started
    if (!outcome.ok) return { ok: false, error: withAttempts(outcome.error, attempts), attempts, durationMs }
    const fitted = fitResult(tool.name, outcome.output, policy.maxResultBytes)
    if (fitted instanceof CallError) return { ok: false, error: fitted, attempts, durationMs }
    return { ok: true, ...fitted, attempts, durationMs }
  }
  try {
    for (;;) {
      attempts++
      const attemptTimeoutMs = policy.attemptTimeoutMs < policy.timeoutMs ? policy.attemptTimeoutMs : undefined
      const context = new AttemptContext(tool.name, callId, attempts, deadline, log, attemptTimeoutMs)
      const outcome = await runAttempt(tool, args, context, policy.abandoned)
      if (outcome.ok || deadline.aborted) return finish(outcome)
      const { error } = outcome
      // An upstream's Retry-After is a floor under the backoff; past the deadline it means no retry.
      const delayMs = Math.max(backoffDelayMs(attempts, policy), error.retryAfterMs ?? 0)
      const remainingMs = policy.timeoutMs - (performance.now() - started)
      if (!error.retryable || attempts > policy.retries || delayMs >= remainingMs) return finish(outcome)
      log.debug({ tool: tool.name, callId, attempt: attempts, code: error.code, delayMs: Math.round(delayMs) }, 'retrying call')
      if (!(await sleep(delayMs, deadline))) return finish({ ok: false, error: abortReason(deadline.reason) })
    }
  } finally {
    clearTimeout(timer)
    deadline.dispose()
  }
}

/** What a tool sees of its attempt; the signal and the child logger are made on first use. */
class AttemptContext implements ToolContext {
  readonly callId: string
  readonly attempt: number
  /** The attempt's own scope when it has a timeout of its own, else the call's deadline. */
  readonly scope: CancelScope
  readonly #deadline: CancelScope
  readonly #timer: NodeJS.Timeout | undefined
  readonly #parentLog: Logger
  readonly #toolName: string
  #log: Logger | undefined

  constructor(toolName: string, callId: string, attempt: number, deadline: CancelScope, log: Logger, attemptTimeoutMs: number | undefined) {
    this.#toolName = toolName
    this.callId = callId
    this.attempt = attempt
    this.#deadline = deadline
    this.#parentLog = log
    if (attemptTimeoutMs === undefined) {
      this.scope = deadline
      return
    }
    const scope = new CancelScope(deadline)
    this.scope = scope
    this.#timer = setTimeout(() => {
      const message = `attempt ${String(attempt)} of ${toolName} did not finish within ${String(attemptTimeoutMs)} ms`
      scope.abort(new CallError('timeout', message, { retryable: true }))
    }, attemptTimeoutMs)
  }

  get signal(): AbortSignal {
    return this.scope.signal
  }

  get log(): Logger {
    return (this.#log ??= this.#parentLog.child({ tool: this.#toolName, callId: this.callId }))
  }

  /** Ends the attempt's own timer and scope. */
  release(): void {
    clearTimeout(this.#timer)
    if (this.scope !== this.#deadline) this.scope.dispose()
  }
}

/**
 * One attempt, settled by the tool or by the first cancellation, whichever comes first.
 * A tool that answers synchronously (a clock, a lookup) is answered without a promise.
 */
function runAttempt(
  tool: Tool,
  args: unknown,
  context: AttemptContext,
  abandoned: AbandonedCount | undefined,
): AttemptOutcome | Promise<AttemptOutcome> {
  const { scope } = context
  if (scope.aborted) {
    context.release()
    return { ok: false, error: abortReason(scope.reason) }
  }
  let running: Promise<unknown>
  try {
    const returned = tool.execute(args, context)
    if (!isThenable(returned)) {
      context.release()
      return { ok: true, output: returned }
    }
    running = Promise.resolve(returned)
  } catch (thrown) {
    // Thrown by execute, or by a hostile `then` getter on what it returned.
    context.release()
    return { ok: false, error: toCallError(thrown) }
  }
  return new Promise((resolve) => {
    let settled = false
    const settle = (outcome: AttemptOutcome) => {
      if (settled) return
      settled = true
      unsubscribe()
      context.release()
      resolve(outcome)
    }
    const unsubscribe = scope.onAbort((reason) => {
      const abortedAt = performance.now()
      settle({ ok: false, error: abortReason(reason) })
      // The tool may ignore its signal; its slot is free already, but it is counted as abandoned
      // until it stops, so that tools piling up in the background can be refused more work.
      if (abandoned) abandoned.count++
      const overrun = () => {
        if (abandoned) abandoned.count--
        context.log.debug({ overrunMs: Math.round(performance.now() - abortedAt) }, 'cancelled tool settled')
      }
      running.then(overrun, overrun)
    })
    running.then(
      (output) => {
        settle({ ok: true, output })
      },
      (thrown: unknown) => {
        settle({ ok: false, error: toCallError(thrown) })
      },
    )
  })
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}

function withAttempts(error: CallError, attempts: number): CallError {
  if (attempts < 2 || error.code !== 'timeout') return error
  return new CallError(error.code, `${error.message} (after ${String(attempts)} attempts)`, { cause: error })
}

function abortReason(reason: unknown): CallError {
  if (reason instanceof CallError) return reason
  return new CallError('cancelled', 'the call was cancelled before it finished: the caller went away')
}

/** Whatever a tool threw, as a CallError whose message the model can read. */
export function toCallError(thrown: unknown): CallError {
  let retryable = false
  try {
    // Inside the try: instanceof on a revoked Proxy throws.
    if (thrown instanceof CallError) return thrown
    retryable = typeof thrown === 'object' && thrown !== null && (thrown as { retryable?: unknown }).retryable === true
  } catch {
    // a hostile getter: not retryable
  }
  let message = describeThrown(thrown)
  if (message.length > maxErrorMessageChars) message = `${message.slice(0, maxErrorMessageChars)}…`
  return new CallError('tool_error', message, { retryable, cause: thrown })
}
