import PQueue from 'p-queue'
import { CallError, RequestError } from '../errors.ts'
import { refusalRetryAfterSeconds } from '../limits.ts'
import type { Logger } from '../observability/logger.ts'
import type { RawToolCall } from '../providers/provider.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import type { Tool } from '../tools/tool.ts'
import type { AnsweredCall, CallVerdict } from './call-result.ts'
import { CancelScope } from './cancel-scope.ts'
import { checkedOptions, type ExecutorOptions } from './executor-options.ts'
import type { BatchObserver } from './observer.ts'
import { prepareCall, type PreparedCall } from './prepare-call.ts'
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
}

export interface BatchResult {
  /** Every call's answer, in the calls' order. */
  calls: AnsweredCall[]
  wallMs: number
}

/** One batch on its way through the executor: what each of its calls needs besides itself. */
interface BatchRun {
  tools: ToolSet
  scope: CancelScope
  log: Logger
  observer: BatchObserver | undefined
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
    const prepared = calls.map((call) => prepareCall(call, tools.registry, this.#argumentLimits, options.allowedTools))
    this.#admit(prepared.filter((entry) => entry.error === undefined).length)

    const scope = new CancelScope(options.signal)
    if (this.#shutdownReason) scope.abort(this.#shutdownReason)
    this.#batches.add(scope)
    const run: BatchRun = { tools, scope, log: options.log, observer: options.observer }
    const started = performance.now()
    let answered: AnsweredCall[]
    try {
      if (options.mode === 'sequential') {
        answered = []
        for (const [index, entry] of prepared.entries()) answered.push(await this.#settle(entry, index, run))
      } else {
        answered = await Promise.all(prepared.map((entry, index) => this.#settle(entry, index, run)))
      }
    } finally {
      this.#batches.delete(scope)
      scope.dispose()
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

  /** Runs one prepared call (or answers its refusal) and tells the batch's observer. Never rejects. */
  async #settle(entry: PreparedCall, index: number, run: BatchRun): Promise<AnsweredCall> {
    const { call } = entry
    const { tools, scope: batch, log, observer } = run
    observer?.callStarted?.(call, index)
    let outcome: CallOutcome
    let queuedMs = 0
    if (entry.error !== undefined) {
      outcome = { ok: false, error: entry.error, attempts: 0, durationMs: 0 }
    } else {
      const enqueued = performance.now()
      outcome = await new Promise<CallOutcome>((resolve) => {
        // A call still waiting when its batch is cancelled is answered at once; its queue entry
        // stays (and counts against capacity) until a slot reaches it, then ends without running.
        const stopWaiting = batch.onAbort((reason) => {
          queuedMs = performance.now() - enqueued
          resolve({ ok: false, error: toCancellation(reason), attempts: 0, durationMs: 0 })
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
            result = await runCall(entry.tool, entry.args, { callId: call.id, scope: batch, log, policy: policyFor(tools, entry.tool) })
          } finally {
            // Before the answer goes out, so that the counts are exact when the batch returns.
            if (started) this.#running--
            this.#outstanding--
          }
          resolve(result)
        }
        this.#enqueue(tools.queues.get(entry.tool.name), task).catch((thrown: unknown) => {
          log.error({ err: thrown, tool: call.name, callId: call.id }, 'scheduling a call failed')
          const error = new CallError('internal_error', 'the gateway failed to schedule this call', { cause: thrown })
          resolve({ ok: false, error, attempts: 0, durationMs: 0 })
        })
      })
    }
    const answered = toAnsweredCall(call, outcome, queuedMs)
    observer?.callAnswered?.(answered, index)
    return answered
  }

  get #argumentLimits() {
    return { maxArgumentBytes: this.#options.maxArgumentBytes, maxArgumentDepth: this.#options.maxArgumentDepth }
  }

  #enqueue(toolQueue: PQueue | undefined, task: () => Promise<void>): Promise<void> {
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

function toCancellation(reason: unknown): CallError {
  return reason instanceof CallError ? reason : new CallError('cancelled', 'the call was cancelled before it started: the caller went away')
}

function toAnsweredCall(call: RawToolCall, outcome: CallOutcome, queuedMs: number): AnsweredCall {
  const timing = { attempts: outcome.attempts, durationMs: round(outcome.durationMs), queuedMs: round(queuedMs) }
  const assigned = call.assignedId ? { assignedId: true as const } : {}
  if (outcome.ok) {
    const truncated = outcome.truncatedFromBytes === undefined ? {} : { truncatedFromBytes: outcome.truncatedFromBytes }
    return {
      result: { id: call.id, name: call.name, ok: true, output: outcome.output, ...timing, ...truncated },
      content: outcome.content,
      ...(outcome.blocks === undefined ? {} : { blocks: outcome.blocks }),
      ...assigned,
    }
  }
  const error = { code: outcome.error.code, message: outcome.error.message }
  return { result: { id: call.id, name: call.name, ok: false, error, ...timing }, content: JSON.stringify({ error }), ...assigned }
}

/** The one invariant whose breach is a bug, not a per-call failure: every call answered, in order. */
function assertEveryCallAnswered(calls: readonly RawToolCall[], answered: readonly AnsweredCall[]): void {
  const intact = calls.length === answered.length && calls.every((call, index) => answered[index]?.result.id === call.id)
  if (!intact) throw new Error('invariant broken: a tool call was left without its answer')
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
