import { LRUCache } from 'lru-cache'
import {
  decodeState,
  encodeState,
  StateUnavailableError,
  type CallState,
  type ExecutionRecord,
  type StateStore,
  type Swap,
  type Swapped,
} from './state-store.ts'

interface StoredExecution {
  record: ExecutionRecord
  /** `owner` + Idempotency-Key, for a keyed execution. */
  indexKey: string | undefined
  /** Each call's state, encoded. */
  calls: Map<number, string>
}

/**
 * The embedded state: this process only, gone with it. Bounded in executions, in bytes (records and
 * call states together) and in time; past a bound the least recently used finished execution is
 * forgotten, and a retry of it runs as new. An execution whose calls are not all answered is kept
 * apart from that eviction (a retry must join it, not run its calls again), up to as many as the
 * entry bound, the oldest first handed to it past that.
 */
export class MemoryStore implements StateStore {
  readonly kind = 'memory'
  readonly up = true
  readonly #executions: LRUCache<string, StoredExecution>
  /** `owner` + key -> execution id. */
  readonly #keys: LRUCache<string, string>
  /** Executions with calls still unanswered, by id, in the order they were opened. */
  readonly #unfinished = new Map<string, StoredExecution>()
  readonly #unfinishedKeys = new Map<string, string>()
  readonly #maxEntries: number
  readonly #ttlMs: number
  /** Keys used once (approval tokens): never evicted before they expire, so a full map refuses new ones. */
  readonly #uses = new Map<string, { holder: string; expiresAt: number }>()

  constructor(options: { maxEntries: number; maxBytes: number; ttlMs: number }) {
    this.#executions = new LRUCache({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttl: options.ttlMs,
      sizeCalculation: (entry) => sizeOf(entry),
    })
    this.#keys = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs })
    this.#maxEntries = options.maxEntries
    this.#ttlMs = options.ttlMs
  }

  #get(id: string): StoredExecution | undefined {
    const unfinished = this.#unfinished.get(id)
    if (unfinished === undefined) return this.#executions.get(id)
    if (Date.now() - unfinished.record.createdAt <= this.#ttlMs) return unfinished
    this.#forget(unfinished)
    return undefined
  }

  #forget(stored: StoredExecution): void {
    this.#unfinished.delete(stored.record.id)
    if (stored.indexKey !== undefined) this.#unfinishedKeys.delete(stored.indexKey)
  }

  /** Hands an execution to the bounded cache: once every call is answered, or to make room. */
  #settle(stored: StoredExecution): void {
    this.#forget(stored)
    this.#executions.set(stored.record.id, stored)
    if (stored.indexKey !== undefined) this.#keys.set(stored.indexKey, stored.record.id)
  }

  openExecution(record: ExecutionRecord, key: string | undefined): Promise<{ record: ExecutionRecord; created: boolean }> {
    const indexKey = key === undefined ? undefined : `${record.owner}\n${key}`
    if (indexKey !== undefined) {
      const existing = this.#unfinishedKeys.get(indexKey) ?? this.#keys.get(indexKey)
      const stored = existing === undefined ? undefined : this.#get(existing)
      if (stored !== undefined) return Promise.resolve({ record: stored.record, created: false })
      this.#unfinishedKeys.set(indexKey, record.id)
    }
    this.#unfinished.set(record.id, { record, indexKey, calls: new Map() })
    if (this.#unfinished.size > this.#maxEntries) {
      const oldest = this.#unfinished.values().next().value
      if (oldest !== undefined) this.#settle(oldest)
    }
    return Promise.resolve({ record, created: true })
  }

  execution(id: string): Promise<ExecutionRecord | undefined> {
    return Promise.resolve(this.#get(id)?.record)
  }

  calls(id: string, count: number): Promise<Array<CallState | undefined>> {
    const stored = this.#get(id)
    return Promise.resolve(Array.from({ length: count }, (_, index) => decodeState(stored?.calls.get(index))))
  }

  swap(id: string, index: number, expected: CallState | undefined, next: CallState | undefined): Promise<Swapped> {
    return Promise.resolve(this.#swap(id, index, expected, next))
  }

  swapMany(id: string, swaps: readonly Swap[]): Promise<Swapped[]> {
    return Promise.resolve(swaps.map(({ index, expected, next }) => this.#swap(id, index, expected, next)))
  }

  #swap(id: string, index: number, expected: CallState | undefined, next: CallState | undefined): Swapped {
    const stored = this.#get(id)
    // Forgotten (a bound or its time passed): nothing to record it in.
    if (stored === undefined) return { swapped: false, now: undefined }
    const current = stored.calls.get(index)
    if (current !== (expected === undefined ? undefined : encodeState(expected))) return { swapped: false, now: decodeState(current) }
    if (next === undefined) stored.calls.delete(index)
    else stored.calls.set(index, encodeState(next))
    if (!this.#unfinished.has(id)) {
      // Set again, so that the cache counts its new size.
      this.#executions.set(id, stored)
    } else if (stored.record.calls.every((_, each) => decodeState(stored.calls.get(each))?.state === 'answered')) {
      this.#settle(stored)
    }
    return { swapped: true, now: next }
  }

  useOnce(key: string, holder: string, ttlMs: number): Promise<string | undefined> {
    const now = Date.now()
    const used = this.#uses.get(key)
    if (used !== undefined && used.expiresAt > now) return Promise.resolve(used.holder)
    if (this.#uses.size >= this.#maxEntries) {
      for (const [each, { expiresAt }] of this.#uses) if (expiresAt <= now) this.#uses.delete(each)
      // Forgetting a use that has not expired would let its token be used again.
      if (this.#uses.size >= this.#maxEntries) {
        return Promise.reject(new StateUnavailableError(`${String(this.#maxEntries)} single-use records are kept, none expired yet`))
      }
    }
    this.#uses.set(key, { holder, expiresAt: now + ttlMs })
    return Promise.resolve(undefined)
  }

  releaseUse(key: string, holder: string): Promise<void> {
    if (this.#uses.get(key)?.holder === holder) this.#uses.delete(key)
    return Promise.resolve()
  }

  /** One process: while it runs, its claims are alive. */
  renewLease(): Promise<void> {
    return Promise.resolve()
  }

  alive(): Promise<boolean> {
    return Promise.resolve(true)
  }

  close(): Promise<void> {
    this.#executions.clear()
    this.#keys.clear()
    this.#unfinished.clear()
    this.#unfinishedKeys.clear()
    this.#uses.clear()
    return Promise.resolve()
  }
}

function sizeOf(entry: StoredExecution): number {
  let size = JSON.stringify(entry.record).length
  for (const state of entry.calls.values()) size += state.length
  return Math.max(1, size)
}
