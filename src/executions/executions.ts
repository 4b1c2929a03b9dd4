import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import type { AnsweredCall } from '../batch/call-result.ts'
import { checkBatch } from '../batch/check-batch.ts'
import type { ExecutionMode, Executor } from '../batch/executor.ts'
import { formatReply, type ExecuteReply } from '../batch/format-reply.ts'
import { composeObservers, type BatchObserver } from '../batch/observer.ts'
import type { CallGate } from '../batch/prepare-call.ts'
import { CallError, RequestError } from '../errors.ts'
import type { Logger } from '../observability/logger.ts'
import {
  assertProvider,
  providerNamed,
  type DecodedPayload,
  type ProviderName,
  type RawToolCall,
  type ToolMessage,
} from '../providers/index.ts'
import { StateUnavailableError, type CallState, type ExecutionRecord, type StateStore } from '../state/state-store.ts'
import { callKeyOf, callsDigest } from './request-headers.ts'

export interface ExecutionRequest {
  payload: DecodedPayload
  format?: ProviderName | undefined
  mode?: ExecutionMode | undefined
  /** Who asks (the API key's name, or `anonymous`): an execution is only ever its owner's. */
  owner: string
  /** The Idempotency-Key; without one the execution is new, and only deferred. */
  key?: string | undefined
  /** Answer at the latest after this long, with the calls still running marked pending; 0: at once. */
  waitMs: number
  allowedTools?: ReadonlySet<string> | undefined
  log: Logger
  observer?: BatchObserver | undefined
  /** The request's approvals; their tokens' uses are recorded as this execution's, so that its retries may use them again. */
  approvals?: { digest: string | undefined; within(id: string): CallGate } | undefined
}

export interface ExecutionAnswer {
  execution: ExecutionRecord
  reply: ExecuteReply<ToolMessage>
  /** Each call's answer as recorded, content blocks included (which a text-only provider's reply renders as text). */
  calls: AnsweredCall[]
  /** Every call is answered. */
  finished: boolean
  /** Nothing ran for this request: every answer was recorded before (a retry of a finished batch). */
  replayed: boolean
}

/** Polls of a call that another request runs: soon at first, then every quarter second. */
const firstPollMs = 20
const maxPollMs = 250
/** What a 409 for a batch still running says to wait. */
const inProgressRetryAfterSeconds = 1

/**
 * Batches whose calls' fates are recorded in the state store: under an Idempotency-Key (each call
 * runs at most once across retries and replicas) or answered before their end (Prefer: wait,
 * respond-async). Each call is claimed by the replica that runs it, marked running right before
 * its tool first runs, and answered once; a retry answers what is recorded, waits for what runs,
 * and decides about what a dead replica left: a call that never started runs, one that was
 * running is outcome_unknown unless its tool is idempotent, which runs again.
 */
export class Executions {
  readonly store: StateStore
  /** This process's name in the claims it makes; its lease keeps them alive. */
  readonly replica = randomUUID()
  readonly #executor: Executor
  readonly #leaseMs: number
  readonly #log: Logger
  #leaseTimer: NodeJS.Timeout | undefined
  /** Calls this process still runs after their request was answered: they finish and are recorded. */
  readonly #background = new Set<Promise<unknown>>()
  /** Answers whose recording failed while the store was unreachable: written as soon as it is back. */
  readonly #unrecorded = new Set<Promise<unknown>>()
  readonly #stopping = new AbortController()

  constructor(executor: Executor, store: StateStore, options: { leaseMs: number; log: Logger }) {
    this.#executor = executor
    this.store = store
    this.#leaseMs = options.leaseMs
    this.#log = options.log
  }

  /** Starts renewing this replica's lease, every third of its length. */
  start(): void {
    this.renewLease()
    this.#leaseTimer = setInterval(
      () => {
        this.renewLease()
      },
      Math.max(50, Math.floor(this.#leaseMs / 3)),
    )
    this.#leaseTimer.unref()
  }

  /**
   * Writes this replica's lease now: on the timer, and as soon as the store is reachable again (a
   * Redis that was away, or restarted, holds no lease of this replica until then, and another
   * replica would take this one's running calls for a dead replica's).
   */
  renewLease(): void {
    this.store.renewLease(this.replica, this.#leaseMs).catch((error: unknown) => {
      this.#log.warn({ err: error }, 'renewing the replica lease failed')
    })
  }

  /** Stops the lease (its claims lapse with it) once the calls still running in the background are recorded. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#background])
    // The answers still unrecorded get a last second, not more: a shutdown does not wait for Redis.
    setTimeout(() => {
      this.#stopping.abort()
    }, 1_000).unref()
    await Promise.allSettled([...this.#unrecorded])
    clearInterval(this.#leaseTimer)
  }

  async run(request: ExecutionRequest): Promise<ExecutionAnswer> {
    const { payload, owner, key } = request
    if (request.format !== undefined) assertProvider(payload, request.format)
    const calls = checkBatch(payload.calls, this.#executor.maxCallsPerBatch)
    const fresh: ExecutionRecord = {
      id: randomUUID(),
      owner,
      digest: callsDigest(calls, request.approvals?.digest),
      provider: payload.provider.name,
      calls: calls.map((call) => (call.assignedId ? { id: call.id, name: call.name, assignedId: true } : { id: call.id, name: call.name })),
      createdAt: Date.now(),
    }
    const { record, created } = await this.#state(this.store.openExecution(fresh, key))
    if (record.digest !== fresh.digest) {
      throw new RequestError(
        'idempotency_key_reused',
        'This Idempotency-Key was used before with other tool calls; a key names one batch. Use a new key for new calls.',
        { path: 'headers.idempotency-key' },
      )
    }
    const answers: Array<AnsweredCall | undefined> = new Array<AnsweredCall | undefined>(calls.length)
    let finishedAt = 0
    const recorded = (index: number, state: CallState | undefined): boolean => {
      if (state?.state !== 'answered') return false
      answers[index] = state.answer
      finishedAt = Math.max(finishedAt, state.finishedAt)
      return true
    }
    if (!created) {
      const states = await this.#state(this.store.calls(record.id, calls.length))
      if (states.every((state, index) => recorded(index, state))) return this.#answer(record, answers, finishedAt, true)
    }

    // Claim every call nobody claimed; the others are answered, or run (or ran) elsewhere.
    const claimed: CallState = { state: 'claimed', replica: this.replica }
    const claims = await this.#state(
      this.store.swapMany(
        record.id,
        calls.map((_, index) => ({ index, expected: undefined, next: claimed })),
      ),
    )
    const mine: number[] = []
    const elsewhere = new Map<number, CallState | undefined>()
    for (const [index, claim] of claims.entries()) {
      if (claim.swapped) mine.push(index)
      else if (!recorded(index, claim.now)) elsewhere.set(index, claim.now)
    }
    mine.push(...(await this.#takeOverOrphans(record, calls, elsewhere, recorded)))
    // Asked not to wait, with nothing to run here and calls running elsewhere: 409.
    if (!created && request.waitMs === 0 && mine.length === 0 && elsewhere.size > 0) {
      throw new RequestError(
        'execution_in_progress',
        `The batch of this Idempotency-Key is still running (execution ${record.id}); retry, or ask to wait for it.`,
        { retryAfterSeconds: inProgressRetryAfterSeconds },
      )
    }

    const runs: Array<Promise<void>> = []
    const runSome = (indices: readonly number[]) => {
      if (indices.length === 0) return
      runs.push(
        this.#runMine(record, calls, indices, request, (index, answer, at) => {
          answers[index] = answer
          finishedAt = Math.max(finishedAt, at)
        }),
      )
    }
    runSome(mine)
    const lost = (index: number) => {
      const call = calls[index]
      if (call !== undefined) answers[index] = stateLost(call)
      finishedAt = Math.max(finishedAt, Date.now())
    }
    const waiting = this.#waitForOthers(record, calls, elsewhere, recorded, lost, runSome, request.waitMs)
    // Every run so far, and those the wait adds (calls it took over from a replica that died).
    const everything = waiting.done.then(() => Promise.all(runs))
    const deadline = new AbortController()
    let finished: boolean
    try {
      finished = await Promise.race([
        everything.then(() => true),
        delay(request.waitMs, false, { signal: deadline.signal }).catch(() => true),
      ])
    } finally {
      deadline.abort()
      waiting.stop()
    }
    if (!finished) {
      const background: Promise<unknown> = everything.catch(() => undefined).finally(() => this.#background.delete(background))
      this.#background.add(background)
    }
    const ran = runs.length > 0
    return this.#answer(record, answers, finished ? finishedAt : Date.now(), !ran && finished && !created)
  }

  /** The batch of `id`, as far as it got, for its owner only; undefined for any other caller, or once it expired. */
  async read(id: string, owner: string): Promise<ExecutionAnswer | undefined> {
    const record = await this.#state(this.store.execution(id))
    if (record?.owner !== owner) return undefined
    const states = await this.#state(this.store.calls(id, record.calls.length))
    let finishedAt = 0
    const answers = states.map((state) => {
      if (state?.state !== 'answered') return undefined
      finishedAt = Math.max(finishedAt, state.finishedAt)
      return state.answer
    })
    const finished = answers.every((answer) => answer !== undefined)
    return this.#answer(record, answers, finished ? finishedAt : Date.now(), false)
  }

  /**
   * Calls claimed by a replica whose lease lapsed (it died): one that never started is claimed
   * here and runs; one that was running runs again if its tool is idempotent, else is answered
   * outcome_unknown. Each decision is a swap from what was read, so two retries decide once.
   */
  async #takeOverOrphans(
    record: ExecutionRecord,
    calls: readonly RawToolCall[],
    elsewhere: Map<number, CallState | undefined>,
    recorded: (index: number, state: CallState | undefined) => boolean,
  ): Promise<number[]> {
    const taken: number[] = []
    const alive = new Map<string, boolean>()
    for (const [index, state] of elsewhere) {
      if (state === undefined || state.state === 'answered') continue
      let isAlive = alive.get(state.replica)
      if (isAlive === undefined) {
        isAlive = state.replica === this.replica || (await this.#state(this.store.alive(state.replica)))
        alive.set(state.replica, isAlive)
      }
      if (isAlive) continue
      const call = calls[index]
      if (call === undefined) continue
      const rerun = state.state === 'claimed' || this.#isIdempotent(call.name)
      const next: CallState = rerun
        ? { state: 'claimed', replica: this.replica }
        : { state: 'answered', answer: outcomeUnknown(call, state.replica), finishedAt: Date.now() }
      const swap = await this.#state(this.store.swap(record.id, index, state, next))
      if (swap.swapped && rerun) {
        taken.push(index)
        elsewhere.delete(index)
      } else if (recorded(index, swap.now)) {
        elsewhere.delete(index)
      } else {
        elsewhere.set(index, swap.now)
      }
    }
    return taken.sort((a, b) => a - b)
  }

  /** Retries a write the store refused while unreachable, with a backoff, until it lands or the process stops. */
  #recordLater(write: () => Promise<unknown>): void {
    const signal = this.#stopping.signal
    const retry = (async () => {
      for (let pause = 100; !signal.aborted; pause = Math.min(2_000, pause * 2)) {
        await delay(pause, undefined, { signal }).catch(() => undefined)
        try {
          await write()
          return
        } catch (error) {
          if (!(error instanceof StateUnavailableError)) return
        }
      }
    })()
    const tracked: Promise<unknown> = retry.finally(() => this.#unrecorded.delete(tracked))
    this.#unrecorded.add(tracked)
  }

  #isIdempotent(name: string): boolean {
    const tool = this.#executor.registry.get(name)
    return tool?.idempotent === true || tool?.readOnly === true
  }

  /**
   * Runs the calls this request claimed, without the client's signal (a keyed or deferred batch
   * outlives its connection), and records each answer as it comes. A call cancelled before it
   * started (a shutdown) is unclaimed again, so that a retry runs it.
   */
  async #runMine(
    record: ExecutionRecord,
    calls: readonly RawToolCall[],
    mine: readonly number[],
    request: ExecutionRequest,
    answered: (index: number, answer: AnsweredCall, at: number) => void,
  ): Promise<void> {
    if (mine.length === 0) return
    const claimed: CallState = { state: 'claimed', replica: this.replica }
    const running: CallState = { state: 'running', replica: this.replica }
    const started = new Set<number>()
    const writes: Array<Promise<unknown>> = []
    const keyBase = request.key ?? record.id
    const recordAnswer: BatchObserver = {
      callAnswered: (answer, position) => {
        const index = mine[position]
        if (index === undefined) return
        const at = Date.now()
        answered(index, answer, at)
        const expected = started.has(index) ? running : claimed
        const neverRan =
          answer.result.attempts === 0 && (answer.result.error?.code === 'cancelled' || answer.result.error?.code === 'state_unavailable')
        const next: CallState | undefined = neverRan && !started.has(index) ? undefined : { state: 'answered', answer, finishedAt: at }
        const write = () => this.store.swap(record.id, index, expected, next)
        writes.push(
          write().catch((error: unknown) => {
            request.log.error({ err: error, callId: answer.result.id, execution: record.id }, 'recording a call answer failed; retrying')
            this.#recordLater(write)
          }),
        )
      },
    }
    try {
      await this.#executor.execute(
        mine.map((index) => calls[index] as RawToolCall),
        {
          mode: request.mode ?? 'parallel',
          log: request.log,
          allowedTools: request.allowedTools,
          observer: composeObservers(request.observer, recordAnswer),
          approvals: request.approvals?.within(record.id),
          journal: {
            keyOf: (position) => callKeyOf(record.owner, keyBase, mine[position] ?? position),
            started: async (position) => {
              const index = mine[position] ?? position
              const swap = await this.store.swap(record.id, index, claimed, running).catch((error: unknown) => {
                throw new CallError('state_unavailable', `the call did not run: its start could not be recorded (${describe(error)})`)
              })
              if (!swap.swapped) throw new CallError('state_unavailable', 'the call did not run: its claim was taken over meanwhile')
              started.add(index)
            },
          },
        },
      )
    } catch (error) {
      // Refused whole (queue full, shutting down): nothing ran, so nothing stays claimed.
      await this.store
        .swapMany(
          record.id,
          mine.map((index) => ({ index, expected: claimed, next: undefined })),
        )
        .catch(() => undefined)
      throw error
    } finally {
      await Promise.all(writes)
    }
  }

  /**
   * Polls the calls other requests run until each is answered, or is taken over from a replica
   * that died (and handed to `run`), or until stopped.
   */
  #waitForOthers(
    record: ExecutionRecord,
    calls: readonly RawToolCall[],
    elsewhere: Map<number, CallState | undefined>,
    recorded: (index: number, state: CallState | undefined) => boolean,
    lost: (index: number) => void,
    run: (indices: readonly number[]) => void,
    waitMs: number,
  ): { done: Promise<void>; stop: () => void } {
    const controller = new AbortController()
    const poll = async () => {
      let pause = firstPollMs
      while (elsewhere.size > 0) {
        const stopped = await delay(pause, false, { signal: controller.signal }).catch(() => true)
        if (stopped) return
        pause = Math.min(maxPollMs, Math.ceil(pause * 1.5))
        const states = await this.store.calls(record.id, calls.length).catch(() => undefined)
        // The store is down for now: the calls are where they were; ask again.
        if (states === undefined) continue
        for (const index of [...elsewhere.keys()]) {
          if (recorded(index, states[index])) elsewhere.delete(index)
          else elsewhere.set(index, states[index])
        }
        // A call whose state vanished along with its execution (Redis restarted empty, or evicted
        // it) will never be answered there: say so, rather than wait for the end of the wait.
        if ([...elsewhere.values()].some((state) => state === undefined)) {
          const still = await this.store.execution(record.id).catch(() => record)
          if (still === undefined) {
            for (const [index, state] of [...elsewhere]) {
              if (state !== undefined) continue
              lost(index)
              elsewhere.delete(index)
            }
          }
        }
        run(await this.#takeOverOrphans(record, calls, elsewhere, recorded).catch(() => []))
      }
    }
    const done = waitMs === 0 ? Promise.resolve() : poll()
    return {
      done,
      stop: () => {
        controller.abort()
      },
    }
  }

  #answer(record: ExecutionRecord, answers: ReadonlyArray<AnsweredCall | undefined>, endedAt: number, replayed: boolean): ExecutionAnswer {
    const filled = record.calls.map((call, index) => answers[index] ?? pendingAnswer(record, call))
    const finished = answers.length === record.calls.length && filled.every((_, index) => answers[index] !== undefined)
    const wallMs = Math.max(0, endedAt - record.createdAt)
    const reply = formatReply({ calls: filled, wallMs }, providerNamed(record.provider))
    return { execution: record, reply, calls: filled, finished, replayed }
  }

  async #state<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation
    } catch (error) {
      if (error instanceof StateUnavailableError) {
        throw new RequestError('state_unavailable', `The shared state is unreachable (${error.message}); nothing of this batch ran.`, {
          retryAfterSeconds: 1,
        })
      }
      throw error
    }
  }
}

function pendingAnswer(record: ExecutionRecord, call: ExecutionRecord['calls'][number]): AnsweredCall {
  const error = {
    code: 'pending' as const,
    message: `${call.name} is still running; its result will be at GET /executions/${record.id}`,
  }
  const answer: AnsweredCall = {
    result: { id: call.id, name: call.name, ok: false, error, attempts: 0, durationMs: 0, queuedMs: 0 },
    content: JSON.stringify({ error }),
  }
  if (call.assignedId) answer.assignedId = true
  return answer
}

function outcomeUnknown(call: RawToolCall, replica: string): AnsweredCall {
  const error = {
    code: 'outcome_unknown' as const,
    message: `${call.name} was running in a gateway replica that stopped (${replica.slice(0, 8)}) before recording how it ended: it may or may not have taken effect. It was not run again, since ${call.name} is not marked idempotent; check its effect before calling it again.`,
  }
  const answer: AnsweredCall = {
    result: { id: call.id, name: call.name, ok: false, error, attempts: 0, durationMs: 0, queuedMs: 0 },
    content: JSON.stringify({ error }),
  }
  if (call.assignedId) answer.assignedId = true
  return answer
}

function stateLost(call: RawToolCall): AnsweredCall {
  const error = {
    code: 'outcome_unknown' as const,
    message: `${call.name} was running when the shared state (Redis) lost this batch's record: it may or may not have taken effect. Check its effect before calling it again.`,
  }
  const answer: AnsweredCall = {
    result: { id: call.id, name: call.name, ok: false, error, attempts: 0, durationMs: 0, queuedMs: 0 },
    content: JSON.stringify({ error }),
  }
  if (call.assignedId) answer.assignedId = true
  return answer
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
