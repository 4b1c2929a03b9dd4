import { LRUCache } from 'lru-cache'
import { decodeState, encodeState, type CallState, type ExecutionRecord, type StateStore, type Swap, type Swapped } from './state-store.ts'

interface StoredExecution {
  record: ExecutionRecord
  /** Each call's state, encoded. */
  calls: Map<number, string>
}

/**
 * The embedded state: this process only, gone with it. Bounded in executions, in bytes (records and
 * call states together) and in time; past a bound the least recently used execution is forgotten,
 * and a retry of it runs as new.
 */
export class MemoryStore implements StateStore {
  readonly kind = 'memory'
  readonly up = true
  readonly #executions: LRUCache<string, StoredExecution>
  /** `owner` + key -> execution id. */
  readonly #keys: LRUCache<string, string>

  constructor(options: { maxEntries: number; maxBytes: number; ttlMs: number }) {
    this.#executions = new LRUCache({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttl: options.ttlMs,
      sizeCalculation: (entry) => sizeOf(entry),
    })
    this.#keys = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs })
  }

  openExecution(record: ExecutionRecord, key: string | undefined): Promise<{ record: ExecutionRecord; created: boolean }> {
    if (key !== undefined) {
      const indexKey = `${record.owner}\n${key}`
      const existing = this.#keys.get(indexKey)
      const stored = existing === undefined ? undefined : this.#executions.get(existing)
      if (stored !== undefined) return Promise.resolve({ record: stored.record, created: false })
      this.#keys.set(indexKey, record.id)
    }
    this.#executions.set(record.id, { record, calls: new Map() })
    return Promise.resolve({ record, created: true })
  }

  execution(id: string): Promise<ExecutionRecord | undefined> {
    return Promise.resolve(this.#executions.get(id)?.record)
  }

  calls(id: string, count: number): Promise<Array<CallState | undefined>> {
    const stored = this.#executions.get(id)
    return Promise.resolve(Array.from({ length: count }, (_, index) => decodeState(stored?.calls.get(index))))
  }

  swap(id: string, index: number, expected: CallState | undefined, next: CallState | undefined): Promise<Swapped> {
    return Promise.resolve(this.#swap(id, index, expected, next))
  }

  swapMany(id: string, swaps: readonly Swap[]): Promise<Swapped[]> {
    return Promise.resolve(swaps.map(({ index, expected, next }) => this.#swap(id, index, expected, next)))
  }

  #swap(id: string, index: number, expected: CallState | undefined, next: CallState | undefined): Swapped {
    const stored = this.#executions.get(id)
    // Forgotten (a bound or its time passed): nothing to record it in.
    if (stored === undefined) return { swapped: false, now: undefined }
    const current = stored.calls.get(index)
    if (current !== (expected === undefined ? undefined : encodeState(expected))) return { swapped: false, now: decodeState(current) }
    if (next === undefined) stored.calls.delete(index)
    else stored.calls.set(index, encodeState(next))
    // Set again, so that the cache counts its new size.
    this.#executions.set(id, stored)
    return { swapped: true, now: next }
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
    return Promise.resolve()
  }
}

function sizeOf(entry: StoredExecution): number {
  let size = JSON.stringify(entry.record).length
  for (const state of entry.calls.values()) size += state.length
  return Math.max(1, size)
}
