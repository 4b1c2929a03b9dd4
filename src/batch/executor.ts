import PQueue from 'p-queue'
import { withoutDecisions } from '../approvals/approvals.ts'
import { CallError, RequestError } from '../errors.ts'
import { refusalRetryAfterSeconds } from '../limits.ts'
import type { Logger } from '../observability/logger.ts'
import type { RawToolCall } from '../providers/provider.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import { sideEffectsOf, type Tool } from '../tools/tool.ts'
import type { AnsweredCall, ApprovalHold, CallResult, CallVerdict } from './call-result.ts'
import { CancelScope, type ScopeSource } from './cancel-scope.ts'
import { checkedOptions, type ExecutorOptions } from './executor-options.ts'
import { lanesOf, runInLanes, type LaneSteps } from './lanes.ts'
import type { BatchObserver } from './observer.ts'
import { prepareCall, type CallGate, type PreparedCall } from './prepare-call.ts'
import { summarize } from './summary.ts'
import { runCall, type AbandonedCount, type CallOutcome, type CallPolicy } from './run-call.ts'

export type ExecutionMode = 'parallel' | 'sequential'

export interface BatchOptions {
  /** `sequential` runs the same calls one at a time, to compare against `parallel`. @default 'parallel' */
  mode?: ExecutionMode
  /** Aborting it cancels the batch's queued and running calls (a client that went away). */
  signal?: AbortSignal
  log: Logger
  /** The tools the caller's API key may call; the others are answered forbidden_tool. @default every tool */
  allowedTools?: ReadonlySet<string> | undefined
  /** Told of each call as it starts and is answered, and of the batch's end (call log, metrics, tracing, a stream). */
  observer?: BatchObserver | undefined
  /** A keyed batch's record of its calls: each call's key, and its start written before its tool first runs. */
  journal?: CallJournal | undefined
  /** The request's approvals: what holds, refuses or edits a call before any runs. */
  approvals?: CallGate | undefined
}

/**
 * What a batch run under an Idempotency-Key adds to each call (by its index in the batch): the key
 * its tool may send downstream, and a record that the call started, written before the tool's
 * first attempt runs (so that a replica dying after it can never let the call run twice). A
 * rejected record answers the call with the rejection's CallError, without running it.
 */
export interface CallJournal {
  keyOf(index: number): string
  started(index: number): Promise<void>
}

export interface BatchResult {
  /** Every call's answer, in the calls' order. */
  calls: AnsweredCall[]
  wallMs: number
}

/**
 * One batch on its way through the executor: what each of its calls needs besides itself. Its
 * cancel scope (following the request's signal, cancelled by a shutdown) is made when a call first
 * waits; a batch whose calls all answer at once needs none, and reads its signal instead.
 */
class BatchRun implements ScopeSource {
  readonly tools: ToolSet
  readonly log: Logger
  readonly observer: BatchObserver | undefined
  readonly journal: CallJournal | undefined
  readonly #signal: AbortSignal | undefined
  readonly #shutdownReason: () => CallError | undefined
  readonly #batches: Set<CancelScope>
  #scope: CancelScope | undefined

  constructor(tools: ToolSet, options: BatchOptions, executor: { batches: Set<CancelScope>; shutdownReason: () => CallError | undefined }) {
    this.tools = tools
    this.log = options.log
    this.observer = options.observer
    this.journal = options.journal
    this.#signal = options.signal
    this.#batches = executor.batches
    this.#shutdownReason = executor.shutdownReason
  }

  get aborted(): boolean {
    if (this.#scope !== undefined) return this.#scope.aborted
    return this.#signal?.aborted === true || this.#shutdownReason() !== undefined
  }

  get reason(): unknown {
    if (this.#scope !== undefined) return this.#scope.reason
    return this.#signal?.aborted === true ? (this.#signal.reason as unknown) : this.#shutdownReason()
  }

  scope(): CancelScope {
    if (this.#scope !== undefined) return this.#scope
    const scope = new CancelScope(this.#signal)
    const shutdown = this.#shutdownReason()
    if (shutdown) scope.abort(shutdown)
    this.#batches.add(scope)
    this.#scope = scope
    return scope
  }

  dispose(): void {
    if (this.#scope === undefined) return
    this.#batches.delete(this.#scope)
    this.#scope.dispose()
  }
}

/**
 * Runs batches of tool calls through one bounded queue (plus a queue per tool that caps its own
 * concurrency). Every call of an admitted batch gets exactly one answer, in the order of the calls.
 */
export class Executor {
  /** The tools in service, with what the executor keeps per tool; replaced whole by a reload. */
  #tools: ToolSet
  readonly #options: ExecutorOptions
  readonly #queue: PQueue
  /** The batches in flight, so that shutting down can cancel them. */
  readonly #batches = new Set<CancelScope>()
  #shutdownReason: CallError | undefined
  /** Admitted calls not yet through the queue: running, or waiting for a slot. */
  #outstanding = 0
  #running = 0
  /** Tools still running after their call was answered. */
  readonly #abandoned: AbandonedCount = { count: 0 }
  /**
   * Above 0 while a call that skipped the queues (their slots were free) runs its tool's
   * synchronous code: a call that code enqueued (re-entering the executor) would otherwise be
   * started by a queue that does not count that call yet. Such a call takes the queues, and enters
   * them once the tool has returned.
   */
  #direct = 0
  readonly #scopes = { batches: this.#batches, shutdownReason: () => this.#shutdownReason }
  /** The approvals of a batch that brings none: a call that needs approval is never run without it (see withoutDecisions). */
  fallbackApprovals: CallGate = withoutDecisions(false)

  /** Throws a TypeError naming the option and its value when one is out of range. */
  constructor(registry: ToolRegistry, options: ExecutorOptions) {
    this.#options = checkedOptions(options)
    this.#queue = new PQueue({ concurrency: this.#options.concurrency })
    this.#tools = this.#toolSet(registry)
  }

  get registry(): ToolRegistry {
    return this.#tools.registry
  }

  /**
   * Puts another set of tools in service (a reload). Batches already admitted finish on the
   * definitions they were prepared with; a tool whose concurrency cap is unchanged keeps its queue,
   * so the cap holds across the reload.
   */
  replaceRegistry(registry: ToolRegistry): void {
    this.#tools = this.#toolSet(registry, this.#tools)
  }

  #toolSet(registry: ToolRegistry, previous?: ToolSet): ToolSet {
    const policies = new Map<string, CallPolicy>()
    const queues = new Map<string, PQueue>()
    for (const tool of registry.tools) {
      policies.set(tool.name, this.#policyOf(tool))
      if (tool.concurrency === undefined) continue
      const kept = previous?.queues.get(tool.name)
      queues.set(tool.name, kept?.concurrency === tool.concurrency ? kept : new PQueue({ concurrency: tool.concurrency }))
    }
    return { registry, policies, queues }
  }

  /** The most calls admitted at once: those running plus those allowed to wait. */
  get capacity(): number {
    return this.#options.concurrency + this.#options.maxQueuedCalls
  }

  /** The most calls one batch may hold. */
  get maxCallsPerBatch(): number {
    return this.#options.maxCallsPerRequest
  }

  get stats(): { running: number; waiting: number; capacity: number; abandoned: number } {
    return { running: this.#running, waiting: this.#outstanding - this.#running, capacity: this.capacity, abandoned: this.#abandoned.count }
  }

  /**
   * Checks every call as execution would (the tool exists, the arguments parse and match its
   * schema) and runs nothing: one verdict per call, in the calls' order.
   */
  validate(calls: readonly RawToolCall[], allowedTools?: ReadonlySet<string>): CallVerdict[] {
    return calls.map((call) => {
      const { error } = prepareCall(call, this.#tools.registry, this.#argumentLimits, allowedTools)
      if (error === undefined) return { id: call.id, name: call.name, ok: true }
      return { id: call.id, name: call.name, ok: false, error: { code: error.code, message: error.message } }
    })
  }

  /**
   * Validates every call, admits the runnable ones or refuses the whole batch (RequestError
   * `queue_full`, before anything runs), then runs them and answers each in the calls' order.
   */
  async execute(calls: readonly RawToolCall[], options: BatchOptions): Promise<BatchResult> {
    // The batch keeps the tools it was prepared with, even if a reload replaces them meanwhile.
    const tools = this.#tools
    const limits = this.#argumentLimits
    const checked = calls.map((call) => prepareCall(call, tools.registry, limits, options.allowedTools))
    let reviewed = (options.approvals ?? this.fallbackApprovals).review(checked, limits)
    if (reviewed instanceof Promise) reviewed = await reviewed
    const prepared = reviewed.prepared
    try {
      this.#admit(prepared.filter((entry) => entry.error === undefined).length)
    } catch (error) {
      await reviewed.undo()
      throw error
    }
    const run = new BatchRun(tools, options, this.#scopes)
    const started = performance.now()
    let answered: AnsweredCall[]
    try {
      const lanes = lanesOf(prepared, tools.registry, limits)
      if (options.mode === 'sequential' && lanes === undefined) {
        answered = []
        for (const [index, entry] of prepared.entries()) {
          const settled = this.#settle(entry, index, run)
          answered.push(settled instanceof Promise ? await settled : settled)
        }
      } else {
        const settled =
          lanes === undefined
            ? prepared.map((entry, index) => this.#settle(entry, index, run))
            : runInLanes(lanes, this.#laneSteps(prepared, run), options.mode === 'sequential')
        answered = settled.some((each) => each instanceof Promise)
          ? await Promise.all(settled.map(async (each) => each))
          : (settled as AnsweredCall[])
      }
    } finally {
      run.dispose()
    }
    assertEveryCallAnswered(calls, answered)
    const result = { calls: answered, wallMs: round(performance.now() - started) }
    const { observer } = options
    if (observer?.batchAnswered) {
      const results = answered.map((call) => call.result)
      observer.batchAnswered(summarize(results, result.wallMs))
    }
    return result
  }

  /** Answers every call in flight, now and from here on, as `cancelled` (the gateway is stopping). */
  cancelAll(): void {
    this.#shutdownReason = new CallError('cancelled', 'the call was cancelled: the gateway is shutting down')
    for (const batch of this.#batches) batch.abort(this.#shutdownReason)
  }

  /**
   * Why no batch that runs anything would be admitted now, if none would: asked before a body is
   * read, it sheds load when the gateway is full at the cost of a header, not of a parse.
   */
  shedding(): RequestError | undefined {
    return this.#refusal(1)
  }

  #admit(count: number): void {
    const refused = this.#refusal(count)
    if (refused) throw refused
    this.#outstanding += count
  }

  /** Why a batch of `count` runnable calls would be refused now, if it would. */
  #refusal(count: number): RequestError | undefined {
    const abandoned = this.#abandoned.count
    if (count > 0 && abandoned >= this.#options.maxAbandonedCalls) {
      return new RequestError(
        'overloaded',
        `The gateway is refusing work: ${String(abandoned)} timed-out or cancelled calls are still running in tools that ignored the abort (limit ${String(this.#options.maxAbandonedCalls)}). Nothing of this batch ran.`,
        { retryAfterSeconds: refusalRetryAfterSeconds },
      )
    }
    if (this.#outstanding + count > this.capacity) {
      return new RequestError(
        'queue_full',
        `The gateway is at capacity: ${String(this.#outstanding)} calls admitted, room for ${String(this.capacity)}${count > 1 ? `; this batch needs ${String(count)}` : ''}. Nothing of it ran.`,
        { retryAfterSeconds: refusalRetryAfterSeconds },
      )
    }
    return undefined
  }

  /** How a batch's calls in lanes are run, or skipped (admitted, they leave the count without running). */
  #laneSteps(prepared: readonly PreparedCall[], run: BatchRun): LaneSteps {
    const entryAt = (index: number) => {
      const entry = prepared[index]
      if (entry === undefined) throw new Error(`invariant broken: no call at ${String(index)}`)
      return entry
    }
    return {
      run: (index, waitedMs) => this.#settle(entryAt(index), index, run, waitedMs),
      skip: (index, error, waitedMs) => {
        const { call } = entryAt(index)
        this.#outstanding--
        run.observer?.callStarted?.(call, index)
        return this.#answer(run, index, call, refused(error), waitedMs)
      },
    }
  }

  /**
   * Runs one prepared call (or answers its refusal) and tells the batch's observer. Never rejects.
   * A call whose slots are free and whose tool answers synchronously is answered synchronously.
   * `waitedMs`: how long it waited for the calls before it in its lane, counted in its queuedMs.
   */
  #settle(entry: PreparedCall, index: number, run: BatchRun, waitedMs = 0): AnsweredCall | Promise<AnsweredCall> {
    run.observer?.callStarted?.(entry.call, index)
    if (entry.error !== undefined) return this.#answer(run, index, entry.call, refused(entry.error), waitedMs, entry.approval)
    const toolQueue = run.tools.queues.get(entry.tool.name)
    // A free slot in both queues and nobody waiting in either: the queues would start the call
    // now, so it starts now without them (no call that waits is overtaken, none runs past a cap).
    if (this.#direct === 0 && isFree(this.#queue) && (toolQueue === undefined || isFree(toolQueue))) {
      return this.#runNow(entry, index, run, toolQueue, waitedMs)
    }
    return this.#runQueued(entry, index, run, toolQueue, waitedMs)
  }

  /** Runs a call whose slots are free; if its tool goes on working (a promise), the call takes its slots in the queues. */
  #runNow(
    entry: RunnableCall,
    index: number,
    run: BatchRun,
    toolQueue: PQueue | undefined,
    waitedMs: number,
  ): AnsweredCall | Promise<AnsweredCall> {
    const { call } = entry
    if (run.aborted) {
      this.#outstanding--
      return this.#answer(run, index, call, cancelledBeforeStart(run.reason), waitedMs)
    }
    this.#running++
    this.#direct++
    let outcome: CallOutcome | Promise<CallOutcome>
    try {
      outcome = runCall(journaled(entry.tool, index, run.journal), entry.args, {
        callId: call.id,
        parent: run,
        log: run.log,
        policy: policyFor(run.tools, entry.tool),
        idempotencyKey: run.journal?.keyOf(index),
      })
    } catch (thrown) {
      outcome = this.#schedulingFailed(run, call, thrown)
    } finally {
      this.#direct--
    }
    if (!(outcome instanceof Promise)) {
      this.#running--
      this.#outstanding--
      return this.#answer(run, index, call, outcome, waitedMs)
    }
    const ended = () => {
      // Before the answer goes out, so that the counts are exact when the batch returns.
      this.#running--
      this.#outstanding--
    }
    const done = outcome.then(
      (result) => {
        ended()
        return result
      },
      (thrown: unknown) => {
        ended()
        return this.#schedulingFailed(run, call, thrown)
      },
    )
    // The slots were free when the call started and only the tool's own code has run since (a call
    // it enqueued waits for this): both queues start this at once, and hold the slots until it ends.
    this.#enqueue(toolQueue, () => done).catch((thrown: unknown) => {
      run.log.error({ err: thrown, tool: call.name, callId: call.id }, 'scheduling a call failed')
    })
    return done.then((result) => this.#answer(run, index, call, result, waitedMs))
  }

  /** Runs a call through the queues: it waits for its tool's slot, then for a shared one. */
  async #runQueued(
    entry: RunnableCall,
    index: number,
    run: BatchRun,
    toolQueue: PQueue | undefined,
    waitedMs: number,
  ): Promise<AnsweredCall> {
    const { call } = entry
    const enqueued = performance.now()
    let queuedMs = 0
    const outcome = await new Promise<CallOutcome>((resolve) => {
      const batch = run.scope()
      // A call still waiting when its batch is cancelled is answered at once; its queue entry
      // stays (and counts against capacity) until a slot reaches it, then ends without running.
      const stopWaiting = batch.onAbort((reason) => {
        queuedMs = performance.now() - enqueued
        resolve(cancelledBeforeStart(reason))
      })
      const task = async () => {
        let result: CallOutcome | undefined
        let started = false
        try {
          if (batch.aborted) return
          stopWaiting()
          queuedMs = performance.now() - enqueued
          started = true
          this.#running++
          result = await runCall(journaled(entry.tool, index, run.journal), entry.args, {
            callId: call.id,
            parent: run,
            log: run.log,
            policy: policyFor(run.tools, entry.tool),
            idempotencyKey: run.journal?.keyOf(index),
          })
        } finally {
          // Before the answer goes out, so that the counts are exact when the batch returns.
          if (started) this.#running--
          this.#outstanding--
        }
        resolve(result)
      }
      const enqueue = () => {
        this.#enqueue(toolQueue, task).catch((thrown: unknown) => {
          resolve(this.#schedulingFailed(run, call, thrown))
        })
      }
      if (this.#direct > 0) queueMicrotask(enqueue)
      else enqueue()
    })
    return this.#answer(run, index, call, outcome, waitedMs + queuedMs)
  }

  #schedulingFailed(run: BatchRun, call: RawToolCall, thrown: unknown): CallOutcome {
    run.log.error({ err: thrown, tool: call.name, callId: call.id }, 'scheduling a call failed')
    const error = new CallError('internal_error', 'the gateway failed to schedule this call', { cause: thrown })
    return { ok: false, error, attempts: 0, durationMs: 0 }
  }

  #answer(run: BatchRun, index: number, call: RawToolCall, outcome: CallOutcome, queuedMs: number, approval?: ApprovalHold): AnsweredCall {
    const answered = toAnsweredCall(call, outcome, queuedMs)
    if (approval !== undefined) answered.result.approval = approval
    run.observer?.callAnswered?.(answered, index)
    return answered
  }

  get #argumentLimits() {
    return { maxArgumentBytes: this.#options.maxArgumentBytes, maxArgumentDepth: this.#options.maxArgumentDepth }
  }

  #enqueue(toolQueue: PQueue | undefined, task: () => Promise<unknown>): Promise<unknown> {
    const runInSharedQueue = () => this.#queue.add(task)
    // A call waits for its tool's own cap first, so it never holds a shared slot while it waits.
    return toolQueue ? toolQueue.add(runInSharedQueue) : runInSharedQueue()
  }

  #policyOf(tool: Tool): CallPolicy {
    const timeoutMs = tool.timeoutMs ?? this.#options.callTimeoutMs
    return {
      timeoutMs,
      attemptTimeoutMs: tool.attemptTimeoutMs ?? timeoutMs,
      retries: tool.retries ?? 0,
      retryTimedOut: sideEffectsOf(tool).idempotent,
      maxResultBytes: this.#options.maxResultBytes,
      abandoned: this.#abandoned,
      retryBaseDelayMs: this.#options.retryBaseDelayMs,
      retryMaxDelayMs: this.#options.retryMaxDelayMs,
      ...(this.#options.random ? { random: this.#options.random } : {}),
    }
  }
}

interface ToolSet {
  registry: ToolRegistry
  policies: Map<string, CallPolicy>
  /** Queues of the tools that cap their own concurrency. */
  queues: Map<string, PQueue>
}

function policyFor(tools: ToolSet, tool: Tool): CallPolicy {
  const policy = tools.policies.get(tool.name)
  if (policy === undefined) throw new Error(`invariant broken: no policy for "${tool.name}"`)
  return policy
}

type RunnableCall = Extract<PreparedCall, { error?: undefined }>

/** The tool, or for a keyed batch the tool behind its journal: its first attempt runs once the call's start is recorded. */
function journaled(tool: Tool, index: number, journal: CallJournal | undefined): Tool {
  if (journal === undefined) return tool
  let recorded: Promise<void> | undefined
  return {
    ...tool,
    execute: async (args, context) => {
      await (recorded ??= journal.started(index))
      return tool.execute(args, context)
    },
  }
}

/** A free slot, and nobody waiting for one. */
function isFree(queue: PQueue): boolean {
  return queue.pending < queue.concurrency && queue.size === 0
}

function refused(error: CallError): CallOutcome {
  return { ok: false, error, attempts: 0, durationMs: 0 }
}

function cancelledBeforeStart(reason: unknown): CallOutcome {
  return { ok: false, error: toCancellation(reason), attempts: 0, durationMs: 0 }
}

function toCancellation(reason: unknown): CallError {
  return reason instanceof CallError ? reason : new CallError('cancelled', 'the call was cancelled before it started: the caller went away')
}

function toAnsweredCall(call: RawToolCall, outcome: CallOutcome, queuedMs: number): AnsweredCall {
  // Built field by field, in the reply's order, rather than copied through spreads.
  const attempts = outcome.attempts
  const durationMs = round(outcome.durationMs)
  if (outcome.ok) {
    const result: CallResult = {
      id: call.id,
      name: call.name,
      ok: true,
      output: outcome.output,
      attempts,
      durationMs,
      queuedMs: round(queuedMs),
    }
    if (outcome.truncatedFromBytes !== undefined) result.truncatedFromBytes = outcome.truncatedFromBytes
    const answered: AnsweredCall = { result, content: outcome.content }
    if (outcome.blocks !== undefined) answered.blocks = outcome.blocks
    if (call.assignedId) answered.assignedId = true
    return answered
  }
  const error = { code: outcome.error.code, message: outcome.error.message }
  const result: CallResult = { id: call.id, name: call.name, ok: false, error, attempts, durationMs, queuedMs: round(queuedMs) }
  const answered: AnsweredCall = { result, content: JSON.stringify({ error }) }
  if (call.assignedId) answered.assignedId = true
  return answered
}

/** The one invariant whose breach is a bug, not a per-call failure: every call answered, in order. */
function assertEveryCallAnswered(calls: readonly RawToolCall[], answered: readonly AnsweredCall[]): void {
  const intact = calls.length === answered.length && calls.every((call, index) => answered[index]?.result.id === call.id)
  if (!intact) throw new Error('invariant broken: a tool call was left without its answer')
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
