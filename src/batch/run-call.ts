import { CallError, describeThrown } from '../errors.ts'
import { maxErrorMessageChars } from '../limits.ts'
import type { Logger } from '../observability/logger.ts'
import type { Tool, ToolContext } from '../tools/tool.ts'
import { backoffDelayMs, sleep, type BackoffPolicy } from './backoff.ts'
import { CancelScope, type ScopeSource } from './cancel-scope.ts'
import { fitResult, type FittedResult } from './fit-result.ts'

export interface CallPolicy extends BackoffPolicy {
  /** Deadline of the whole call, retries and backoff included. */
  timeoutMs: number
  /** Deadline of one attempt; only armed when shorter than the call's. */
  attemptTimeoutMs: number
  retries: number
  /**
   * Whether an attempt that timed out may be retried: only for an idempotent or read-only tool, as
   * the attempt may have taken effect before it was cut.
   */
  retryTimedOut: boolean
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
 * the tool ignores its signal, so a stuck tool never holds its slot. Never rejects, never throws.
 *
 * A call whose tool answers synchronously (a clock, a lookup) is answered synchronously, without a
 * timer or a scope: no deadline and no cancellation can fire while it runs. The deadline's scope
 * and timer are made when something may wait (the tool returned a promise, a retry backs off) or
 * when the tool asks for its signal, and run from the call's start.
 */
export function runCall(tool: Tool, args: unknown, options: CallOptions): CallOutcome | Promise<CallOutcome> {
  return new CallRun(tool, args, options).run()
}

interface CallOptions {
  callId: string
  parent: ScopeSource
  log: Logger
  policy: CallPolicy
  /** The call's own Idempotency-Key, for a batch that came with one. */
  idempotencyKey?: string | undefined
}

/** What comes after an attempt: the call's outcome, or the backoff (ms) before the next attempt. */
type Next = CallOutcome | number

/** One call on its way: its attempts so far, and its deadline once something may wait. */
class CallRun {
  readonly tool: Tool
  readonly args: unknown
  readonly callId: string
  readonly idempotencyKey: string | undefined
  readonly log: Logger
  readonly policy: CallPolicy
  readonly started = performance.now()
  /** Deadline of one attempt, when shorter than the call's. */
  readonly attemptTimeoutMs: number | undefined
  attempts = 0
  readonly #parent: ScopeSource
  #deadline: CancelScope | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(tool: Tool, args: unknown, options: CallOptions) {
    this.tool = tool
    this.args = args
    this.callId = options.callId
    this.idempotencyKey = options.idempotencyKey
    this.log = options.log
    this.policy = options.policy
    this.#parent = options.parent
    const { attemptTimeoutMs, timeoutMs } = options.policy
    this.attemptTimeoutMs = attemptTimeoutMs < timeoutMs ? attemptTimeoutMs : undefined
  }

  /** Whether the call is cancelled: by its batch (the client went away, the gateway stops) or at its deadline. */
  get aborted(): boolean {
    return (this.#deadline ?? this.#parent).aborted
  }

  get reason(): unknown {
    return (this.#deadline ?? this.#parent).reason
  }

  /** The call's scope: cancelled with its batch, and at the deadline, counted from the call's start. */
  deadline(): CancelScope {
    if (this.#deadline !== undefined) return this.#deadline
    const scope = new CancelScope(this.#parent.scope())
    this.#deadline = scope
    const { timeoutMs } = this.policy
    this.#timer = setTimeout(
      () => {
        scope.abort(new CallError('timeout', `${this.tool.name} did not finish within its deadline of ${String(timeoutMs)} ms`))
      },
      Math.max(0, timeoutMs - (performance.now() - this.started)),
    )
    return scope
  }

  run(): CallOutcome | Promise<CallOutcome> {
    let next: Next | Promise<AttemptOutcome>
    try {
      const outcome = this.#attempt()
      if (outcome instanceof Promise) return this.#goOn(outcome)
      next = this.#next(outcome)
    } catch (thrown) {
      this.#end()
      throw thrown
    }
    if (typeof next === 'number') return this.#goOn(next)
    this.#end()
    return next
  }

  /** The rest of a call that waits: for its attempt, or for the backoff before the next one. */
  async #goOn(waiting: Promise<AttemptOutcome> | number): Promise<CallOutcome> {
    try {
      let step = waiting
      for (;;) {
        if (typeof step !== 'number') {
          const next = this.#next(await step)
          if (typeof next !== 'number') return next
          step = next
        }
        if (!(await sleep(step, this.deadline()))) return this.#finish({ ok: false, error: abortReason(this.reason) })
        const outcome = this.#attempt()
        if (outcome instanceof Promise) {
          step = outcome
          continue
        }
        const next = this.#next(outcome)
        if (typeof next !== 'number') return next
        step = next
      }
    } finally {
      this.#end()
    }
  }

  #attempt(): AttemptOutcome | Promise<AttemptOutcome> {
    this.attempts++
    return runAttempt(this.tool, this.args, new AttemptContext(this, this.attempts), this.policy.abandoned)
  }

  #next(outcome: AttemptOutcome): Next {
    if (outcome.ok || this.aborted) return this.#finish(outcome)
    const { error } = outcome
    const { policy, attempts } = this
    // An upstream's Retry-After is a floor under the backoff; past the deadline it means no retry.
    const delayMs = Math.max(backoffDelayMs(attempts, policy), error.retryAfterMs ?? 0)
    const remainingMs = policy.timeoutMs - (performance.now() - this.started)
    if (!error.retryable || attempts > policy.retries || delayMs >= remainingMs) return this.#finish(outcome)
    if (error.code === 'timeout' && !policy.retryTimedOut) {
      const message = `${error.message}; it was not retried, since ${this.tool.name} is not marked idempotent (the attempt may have taken effect)`
      return this.#finish({ ok: false, error: new CallError('timeout', message, { cause: error }) })
    }
    this.log.debug(
      { tool: this.tool.name, callId: this.callId, attempt: attempts, code: error.code, delayMs: Math.round(delayMs) },
      'retrying call',
    )
    return delayMs
  }

  #finish(outcome: AttemptOutcome): CallOutcome {
    const { attempts } = this
    const durationMs = performance.now() - this.started
    if (!outcome.ok) return { ok: false, error: withAttempts(outcome.error, attempts), attempts, durationMs }
    const fitted = fitResult(this.tool.name, outcome.output, this.policy.maxResultBytes)
    if (fitted instanceof CallError) return { ok: false, error: fitted, attempts, durationMs }
    return withTiming(fitted, attempts, durationMs)
  }

  #end(): void {
    clearTimeout(this.#timer)
    this.#deadline?.dispose()
  }
}

/** The fitted result as the call's outcome, without copying it through a spread. */
function withTiming(fitted: FittedResult, attempts: number, durationMs: number): CallOutcome {
  const outcome: FittedResult & { ok: true; attempts: number; durationMs: number } = {
    ok: true,
    output: fitted.output,
    content: fitted.content,
    attempts,
    durationMs,
  }
  if (fitted.blocks !== undefined) outcome.blocks = fitted.blocks
  if (fitted.truncatedFromBytes !== undefined) outcome.truncatedFromBytes = fitted.truncatedFromBytes
  return outcome
}

/**
 * What a tool sees of its attempt. Its scope (and the timer of an attempt timeout shorter than the
 * call's) is made when the tool asks for its signal or the attempt waits; its child logger on first use.
 */
class AttemptContext implements ToolContext {
  readonly callId: string
  readonly idempotencyKey: string | undefined
  readonly attempt: number
  readonly #call: CallRun
  /** When the attempt started, if it has a timeout of its own. */
  readonly #startedAt: number
  #scope: CancelScope | undefined
  #timer: NodeJS.Timeout | undefined
  #log: Logger | undefined

  constructor(call: CallRun, attempt: number) {
    this.#call = call
    this.callId = call.callId
    this.idempotencyKey = call.idempotencyKey
    this.attempt = attempt
    this.#startedAt = call.attemptTimeoutMs === undefined || attempt === 1 ? call.started : performance.now()
  }

  get aborted(): boolean {
    return this.#scope === undefined ? this.#call.aborted : this.#scope.aborted
  }

  get reason(): unknown {
    return this.#scope === undefined ? this.#call.reason : this.#scope.reason
  }

  /** The attempt's own scope when it has a timeout of its own, else the call's deadline. */
  get scope(): CancelScope {
    if (this.#scope !== undefined) return this.#scope
    const deadline = this.#call.deadline()
    const attemptTimeoutMs = this.#call.attemptTimeoutMs
    if (attemptTimeoutMs === undefined) return (this.#scope = deadline)
    const scope = new CancelScope(deadline)
    this.#scope = scope
    const { attempt } = this
    const toolName = this.#call.tool.name
    this.#timer = setTimeout(
      () => {
        const message = `attempt ${String(attempt)} of ${toolName} did not finish within ${String(attemptTimeoutMs)} ms`
        scope.abort(new CallError('timeout', message, { retryable: true }))
      },
      Math.max(0, attemptTimeoutMs - (performance.now() - this.#startedAt)),
    )
    return scope
  }

  get signal(): AbortSignal {
    return this.scope.signal
  }

  get log(): Logger {
    return (this.#log ??= this.#call.log.child({ tool: this.#call.tool.name, callId: this.callId }))
  }

  /** Ends the attempt's own timer and scope. */
  release(): void {
    if (this.#scope === undefined) return
    clearTimeout(this.#timer)
    if (this.#call.attemptTimeoutMs !== undefined) this.#scope.dispose()
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
  if (context.aborted) {
    context.release()
    return { ok: false, error: abortReason(context.reason) }
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
  // It waits: now a deadline (and an attempt timeout) can fire, and its scope and timers are made.
  const { scope } = context
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
