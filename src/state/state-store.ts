import type { AnsweredCall } from '../batch/call-result.ts'
import type { ProviderName } from '../providers/index.ts'

/** A batch whose calls' fates are recorded: one that came with an Idempotency-Key, or one answered before its end. */
export interface ExecutionRecord {
  /** What `GET /executions/<id>` names it by. */
  id: string
  /** Who started it (the API key's name, or `anonymous`): nobody else may read or join it. */
  owner: string
  /** SHA-256 of its calls (ids, names, arguments): a key reused with other calls is refused. */
  digest: string
  /** The format its answers are given in. */
  provider: ProviderName
  /** Its calls, in order: enough to answer one that is still running. */
  calls: Array<{ id: string; name: string; assignedId?: true }>
  /** Epoch ms. */
  createdAt: number
}

/**
 * Where one call of an execution stands. A call is claimed by the replica that will run it,
 * marked running just before its tool first runs, and answered once. A replica's claims outlive it
 * only as long as its lease: a retry finds a lapsed claim and decides (see run-execution.ts).
 */
export type CallState =
  | { state: 'claimed'; replica: string }
  | { state: 'running'; replica: string }
  | { state: 'answered'; answer: AnsweredCall; finishedAt: number }

/**
 * The state replicas share: in memory (one process) or on Redis (every replica). Every method
 * rejects with a StateUnavailableError when the store cannot be reached; nothing is then assumed.
 */
export interface StateStore {
  readonly kind: 'memory' | 'redis'
  /** Whether the store answers now (Redis connected). */
  readonly up: boolean
  /**
   * The execution of `owner`'s `key`, made from `record` if there is none yet (atomically: of two
   * replicas racing, one creates it and both get it). Without a key, `record` is stored as is.
   */
  openExecution(record: ExecutionRecord, key: string | undefined): Promise<{ record: ExecutionRecord; created: boolean }>
  execution(id: string): Promise<ExecutionRecord | undefined>
  /** The state of each of the execution's first `count` calls; undefined for one nobody claimed. */
  calls(id: string, count: number): Promise<Array<CallState | undefined>>
  /**
   * Sets call `index` to `next` (undefined: unclaimed again) if it is still `expected` (undefined:
   * nobody claimed it), and answers what it is now: `next` when the swap happened, else what
   * another replica wrote.
   */
  swap(id: string, index: number, expected: CallState | undefined, next: CallState | undefined): Promise<Swapped>
  /** Many swaps in one round trip, e.g. claiming every call of a batch. */
  swapMany(id: string, swaps: readonly Swap[]): Promise<Swapped[]>
  /**
   * Records that `key` was used by `holder` (for `ttlMs`) unless it was already: answers the holder
   * recorded before, or undefined when this call recorded it. What makes an approval token single-use.
   */
  useOnce(key: string, holder: string, ttlMs: number): Promise<string | undefined>
  /** Forgets `key`'s use if `holder` recorded it: the tokens of a batch then refused whole (nothing ran). */
  releaseUse(key: string, holder: string): Promise<void>
  /** Keeps this replica's lease for `ms`; its claims count as alive while it holds. */
  renewLease(replica: string, ms: number): Promise<void>
  /** Whether `replica` still holds its lease. */
  alive(replica: string): Promise<boolean>
  close(): Promise<void>
}

export interface Swap {
  index: number
  expected: CallState | undefined
  next: CallState | undefined
}

export interface Swapped {
  swapped: boolean
  now: CallState | undefined
}

/** The store could not be reached (Redis down): a keyed batch is refused rather than run without its guarantee. */
export class StateUnavailableError extends Error {
  override name = 'StateUnavailableError'
}

/** How a call's state is written: one JSON string, compared byte for byte by the swaps. */
export function encodeState(state: CallState): string {
  return JSON.stringify(state)
}

export function decodeState(raw: string | null | undefined): CallState | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined
  return JSON.parse(raw) as CallState
}
