import PQueue from 'p-queue'
import type { Logger } from '../observability/logger.ts'
import { CallError, RequestError } from '../errors.ts'
import { CancelScope } from './cancel-scope.ts'
import type { RawToolCall } from '../providers/payload.ts'
import { prepareCall, type PreparedCall } from './prepare-call.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import { runCall, type CallOutcome, type CallPolicy } from './run-call.ts'
import type { Tool } from '../tools/tool.ts'

export interface ExecutorOptions {
  /** Calls running at once across all batches. */
  concurrency: number
  /** Calls that may wait for a slot beyond those running; a batch that would exceed it is refused whole. */
  maxQueuedCalls: number
  /** Deadline of a call whose tool sets none. */
  callTimeoutMs: number
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  maxArgumentBytes: number
  maxArgumentDepth: number
  /** Largest result content a model reads; longer is cut and marked. */
  maxResultBytes: number
  /**
   * Calls answered (timed out, cancelled) whose tools ignored the abort and still run. Past it,
   * new batches are refused (503): the process would otherwise pile up work nobody waits for.
   */
  maxAbandonedCalls: number
  /** Source of backoff jitter in [0, 1). @default Math.random */
  random?: () => number
  /** Told of every call's answer (metrics). */
  onCallAnswered?: (result: CallResult) => void
}

export type ExecutionMode = 'parallel' | 'sequential'

export interface BatchOptions {
  /** `sequential` runs the same calls one at a time, to compare against `parallel`. @default 'parallel' */
  mode?: ExecutionMode
  /** Aborting it cancels the batch's queued and running calls (a client that went away). */
  signal?: AbortSignal
  log: Logger
  /** The tools the caller's API key may call; the others are answered forbidden_tool. @default every tool */
  allowedTools?: ReadonlySet<string> | undefined
  /** Called when a call is taken up; the function it returns is called with the call's answer (tracing). */
  traceCall?: ((call: { id: string; name: string }) => (result: CallResult) => void) | undefined
  /** Called with each call's answer as soon as it is settled (in completion order), with its position in the batch. */
  onAnswer?: (call: ExecutedCall, index: number) => void
}

/** One call's result as the reply's `results` shows it. */
export interface CallResult {
  id: string
  name: string
  ok: boolean
  output?: unknown
  error?: { code: CallError['code']; message: string }
  attempts: number
  /** From the first attempt's start to the answer; 0 for a call refused before running. */
  durationMs: number
  /** Time spent waiting for a slot. */
  queuedMs: number
  /** The result was longer than the limit: its size before it was cut. */
  truncatedFromBytes?: number
}

/** Whether a call would run, and if not why: what `?mode=validate` answers. */
export type CallVerdict = Pick<CallResult, 'id' | 'name' | 'ok' | 'error'>

/** One call's answer, in the order of the calls. */
export interface ExecutedCall {
  result: CallResult
  /** What the model reads in its tool message. */
  content: string
  /** The payload had no id for this call; `result.id` was made up by toolgate. */
  assignedId?: true
}

export interface BatchResult {
  calls: ExecutedCall[]
  wallMs: number
}

const retryAfterSeconds = 1

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
  #abandoned = 0
  readonly #onAbandoned = (change: 1 | -1) => {
    this.#abandoned += change
  }

  constructor(registry: ToolRegistry, options: ExecutorOptions) {
    for (const [option, value] of Object.entries({ concurrency: options.concurrency, callTimeoutMs: options.callTimeoutMs })) {
      if (!(Number.isInteger(value) && value > 0)) {
        throw new TypeError(`Executor option ${option} must be a positive integer, got ${String(value)}`)
      }
    }
    this.#options = options
    this.#queue = new PQueue({ concurrency: options.concurrency })
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

  get stats(): { running: number; waiting: number; capacity: number; abandoned: number } {
    return { running: this.#running, waiting: this.#outstanding - this.#running, capacity: this.capacity, abandoned: this.#abandoned }
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

    const batch = new CancelScope(options.signal)
    if (this.#shutdownReason) batch.abort(this.#shutdownReason)
    this.#batches.add(batch)
    const started = performance.now()
    let executed: ExecutedCall[]
    try {
      if (options.mode === 'sequential') {
        executed = []
        for (const [index, entry] of prepared.entries()) executed.push(await this.#settle(entry, tools, batch, options, index))
      } else {
        executed = await Promise.all(prepared.map((entry, index) => this.#settle(entry, tools, batch, options, index)))
      }
    } finally {
      this.#batches.delete(batch)
      batch.dispose()
    }
    assertEveryCallAnswered(calls, executed)
    return { calls: executed, wallMs: round(performance.now() - started) }
  }

  /** Answers every call in flight, now and from here on, as `cancelled` (the gateway is stopping). */
  cancelAll(): void {
    this.#shutdownReason = new CallError('cancelled', 'the call was cancelled: the gateway is shutting down')
    for (const batch of this.#batches) batch.abort(this.#shutdownReason)
  }

  #admit(count: number): void {
    const refused = this.refusal(count)
    if (refused) throw refused
    this.#outstanding += count
  }

  /**
   * Why a batch of `count` runnable calls would be refused now, if it would. Asked with 1 before a
   * body is read, it sheds load when the gateway is full at the cost of a header, not of a parse.
   */
  refusal(count: number): RequestError | undefined {
    if (count > 0 && this.#abandoned >= this.#options.maxAbandonedCalls) {
      return new RequestError(
        'overloaded',
        `The gateway is refusing work: ${String(this.#abandoned)} timed-out or cancelled calls are still running in tools that ignored the abort (limit ${String(this.#options.maxAbandonedCalls)}). Nothing of this batch ran.`,
        { retryAfterSeconds },
      )
    }
    if (this.#outstanding + count > this.capacity) {
      return new RequestError(
        'queue_full',
        `The gateway is at capacity: ${String(this.#outstanding)} calls admitted, room for ${String(this.capacity)}${count > 1 ? `; this batch needs ${String(count)}` : ''}. Nothing of it ran.`,
        { retryAfterSeconds },
      )
    }
    return undefined
  }

  /** Runs one prepared call (or answers its refusal) and logs one line for it. Never rejects. */
  async #settle(entry: PreparedCall, tools: ToolSet, batch: CancelScope, options: BatchOptions, index: number): Promise<ExecutedCall> {
    const { call } = entry
    const { log } = options
    const endTrace = options.traceCall?.(call)
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
    const executed = toExecutedCall(call, outcome, queuedMs)
    const { result } = executed
    log.info(
      {
        tool: call.name,
        callId: call.id,
        outcome: result.error?.code ?? 'ok',
        attempts: result.attempts,
        durationMs: result.durationMs,
        queuedMs: result.queuedMs,
      },
      'call answered',
    )
    endTrace?.(result)
    this.#options.onCallAnswered?.(result)
    options.onAnswer?.(executed, index)
    return executed
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
      onAbandoned: this.#onAbandoned,
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
  return reason instanceof CallError
    ? reason
    : new CallError('cancelled', 'the call was cancelled before it started: the caller went away')
}

function toExecutedCall(call: RawToolCall, outcome: CallOutcome, queuedMs: number): ExecutedCall {
  const timing = { attempts: outcome.attempts, durationMs: round(outcome.durationMs), queuedMs: round(queuedMs) }
  const assigned = call.assignedId ? { assignedId: true as const } : {}
  if (outcome.ok) {
    const truncated = outcome.truncatedFromBytes === undefined ? {} : { truncatedFromBytes: outcome.truncatedFromBytes }
    return { result: { id: call.id, name: call.name, ok: true, output: outcome.output, ...timing, ...truncated }, content: outcome.content, ...assigned }
  }
  const error = { code: outcome.error.code, message: outcome.error.message }
  return { result: { id: call.id, name: call.name, ok: false, error, ...timing }, content: JSON.stringify({ error }), ...assigned }
}

/** The one invariant whose breach is a bug, not a per-call failure: every call answered, in order. */
function assertEveryCallAnswered(calls: readonly RawToolCall[], executed: readonly ExecutedCall[]): void {
  const intact = calls.length === executed.length && calls.every((call, index) => executed[index]?.result.id === call.id)
  if (!intact) throw new Error('invariant broken: a tool call was left without its answer')
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
