import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
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

/**
 * Compare-and-set of one call's state in its execution's hash: the one atomic step every claim,
 * start, answer and take-over goes through. An empty ARGV[2] expects no state; an empty ARGV[3]
 * removes it. Returns the field's value after the script: ARGV[3] when it swapped.
 */
const swapScript = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current == false and ARGV[2] == '') or current == ARGV[2] then
  if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, ARGV[3]}
end
return {0, current or ''}
`

/** Deletes KEYS[1] if it holds ARGV[1]: a use released only by its holder. */
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

type ReleaseCommand = (key: string, holder: string) => Promise<number>

type SwapCommand = (key: string, field: string, expected: string, next: string, ttlMs: string) => Promise<[number, string]>

/**
 * The state on Redis (or Valkey), shared by every replica. Keys, all under the prefix:
 * `key:<sha256(owner, key)>` the execution an Idempotency-Key names, `execution:<id>` its record,
 * `calls:<id>` a hash of its calls' states, `lease:<replica>` a replica's lease. Every key expires
 * after the TTL (a lease after its own time). The client fails fast while disconnected (no
 * offline queue), so a request never waits on a Redis that is down: it gets state_unavailable.
 */
export class RedisStore implements StateStore {
  readonly kind = 'redis'
  readonly #client: Redis
  readonly #prefix: string
  readonly #ttlMs: number
  readonly #swap: SwapCommand
  readonly #release: ReleaseCommand

  constructor(client: Redis, options: { prefix: string; ttlMs: number }) {
    this.#client = client
    this.#prefix = options.prefix
    this.#ttlMs = options.ttlMs
    if (!('toolgateSwap' in client)) client.defineCommand('toolgateSwap', { numberOfKeys: 1, lua: swapScript })
    const command = (client as unknown as { toolgateSwap: SwapCommand }).toolgateSwap
    this.#swap = command.bind(client)
    if (!('toolgateRelease' in client)) client.defineCommand('toolgateRelease', { numberOfKeys: 1, lua: releaseScript })
    const release = (client as unknown as { toolgateRelease: ReleaseCommand }).toolgateRelease
    this.#release = release.bind(client)
  }

  get up(): boolean {
    return this.#client.status === 'ready'
  }

  async openExecution(record: ExecutionRecord, key: string | undefined): Promise<{ record: ExecutionRecord; created: boolean }> {
    const encoded = JSON.stringify(record)
    const ttl = String(this.#ttlMs)
    return this.#call(async () => {
      if (key !== undefined) {
        const indexKey = `${this.#prefix}key:${createHash('sha256').update(`${record.owner}\n${key}`).digest('hex')}`
        // The record itself is the index's value: of two replicas racing, the one whose SET NX
        // lands creates the execution; the other reads it in the same round trip.
        const [set, existing] = (await this.#client.multi().set(indexKey, encoded, 'PX', ttl, 'NX').get(indexKey).exec()) ?? []
        const stored = existing?.[1]
        if (set?.[1] !== 'OK' && typeof stored === 'string') return { record: JSON.parse(stored) as ExecutionRecord, created: false }
      }
      await this.#client.set(this.#executionKey(record.id), encoded, 'PX', ttl)
      return { record, created: true }
    })
  }

  async execution(id: string): Promise<ExecutionRecord | undefined> {
    const stored = await this.#call(() => this.#client.get(this.#executionKey(id)))
    return stored === null ? undefined : (JSON.parse(stored) as ExecutionRecord)
  }

  async calls(id: string, count: number): Promise<Array<CallState | undefined>> {
    if (count === 0) return []
    const fields = Array.from({ length: count }, (_, index) => String(index))
    const values = await this.#call(() => this.#client.hmget(this.#callsKey(id), ...fields))
    return values.map((value) => decodeState(value))
  }

  async swap(id: string, index: number, expected: CallState | undefined, next: CallState | undefined): Promise<Swapped> {
    const [result] = await this.swapMany(id, [{ index, expected, next }])
    if (result === undefined) throw new StateUnavailableError('the swap had no answer')
    return result
  }

  async swapMany(id: string, swaps: readonly Swap[]): Promise<Swapped[]> {
    if (swaps.length === 0) return []
    const key = this.#callsKey(id)
    const ttl = String(this.#ttlMs)
    const answers = await this.#call(() =>
      Promise.all(
        swaps.map(({ index, expected, next }) =>
          this.#swap(
            key,
            String(index),
            expected === undefined ? '' : encodeState(expected),
            next === undefined ? '' : encodeState(next),
            ttl,
          ),
        ),
      ),
    )
    return answers.map(([swapped, now]) => ({ swapped: swapped === 1, now: decodeState(now) }))
  }

  async useOnce(key: string, holder: string, ttlMs: number): Promise<string | undefined> {
    const stored = this.#useKey(key)
    return this.#call(async () => {
      const [set, existing] = (await this.#client.multi().set(stored, holder, 'PX', String(ttlMs), 'NX').get(stored).exec()) ?? []
      if (set?.[1] === 'OK') return undefined
      return typeof existing?.[1] === 'string' ? existing[1] : ''
    })
  }

  async releaseUse(key: string, holder: string): Promise<void> {
    await this.#call(() => this.#release(this.#useKey(key), holder))
  }

  #useKey(key: string): string {
    return `${this.#prefix}used:${createHash('sha256').update(key).digest('hex')}`
  }

  async renewLease(replica: string, ms: number): Promise<void> {
    await this.#call(() => this.#client.set(`${this.#prefix}lease:${replica}`, '1', 'PX', String(ms)))
  }

  async alive(replica: string): Promise<boolean> {
    return (await this.#call(() => this.#client.exists(`${this.#prefix}lease:${replica}`))) === 1
  }

  /** The client is the process's; whoever made it closes it. */
  close(): Promise<void> {
    return Promise.resolve()
  }

  #executionKey(id: string): string {
    return `${this.#prefix}execution:${id}`
  }

  #callsKey(id: string): string {
    return `${this.#prefix}calls:${id}`
  }

  /** Runs a command, failing fast with StateUnavailableError when Redis is not there. */
  async #call<T>(command: () => Promise<T>): Promise<T> {
    if (this.#client.status !== 'ready') throw new StateUnavailableError(`Redis is not reachable (${this.#client.status})`)
    try {
      return await command()
    } catch (error) {
      throw new StateUnavailableError(`Redis failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
  }
}
