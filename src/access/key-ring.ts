import type { Config } from '../config/env.ts'
import { loadApiKeys, type ApiKey, type Caller } from './api-keys.ts'
import { bearerDigest, headerDigest, sameDigest } from './bearer.ts'

/**
 * The API keys in force, and who a request's Authorization header names. Keys come from
 * TOOLGATE_API_KEYS and TOOLGATE_API_KEYS_FILE; a reload rereads the file and puts its keys in
 * force at once, or changes nothing if it is invalid.
 */
export class KeyRing {
  readonly #config: Pick<Config, 'apiKeys' | 'apiKeysFile'>
  #keys: Array<{ digest: Buffer; caller: Caller }> = []
  #anyRateLimit = false

  private constructor(config: Pick<Config, 'apiKeys' | 'apiKeysFile'>) {
    this.#config = config
  }

  /** Reads the keys; throws a ConfigFileError for a bad keys file. */
  static async load(config: Pick<Config, 'apiKeys' | 'apiKeysFile'>): Promise<KeyRing> {
    const ring = new KeyRing(config)
    ring.#use(await loadApiKeys(config))
    return ring
  }

  /** No key is configured: every route is open. */
  get open(): boolean {
    return this.#keys.length === 0
  }

  /** Whether some key has a rate limit of its own, or a reload could give one (there is a keys file). */
  get mayLimitRates(): boolean {
    return this.#anyRateLimit || this.#config.apiKeysFile !== undefined
  }

  /**
   * The caller whose key the header bears, or null. Compared as digests, in constant time, against
   * every key (no early exit), so the time taken tells nothing of how close a guess was.
   */
  callerOf(authorization: string | undefined): Caller | null {
    const given = headerDigest(authorization)
    let caller: Caller | null = null
    for (const key of this.#keys) {
      if (sameDigest(given, key.digest)) caller ??= key.caller
    }
    return caller
  }

  /**
   * Rereads the keys and returns the switch that puts them in force, so that a reload of keys and
   * tools together changes either only when both are valid. Throws, changing nothing, on a bad file.
   */
  async prepareReload(): Promise<() => void> {
    if (this.#config.apiKeysFile === undefined) return () => undefined
    const keys = await loadApiKeys(this.#config)
    return () => {
      this.#use(keys)
    }
  }

  #use(keys: readonly ApiKey[]): void {
    this.#keys = keys.map(({ key, ...caller }) => ({ digest: bearerDigest(key), caller }))
    this.#anyRateLimit = keys.some((key) => key.rateLimitPerMinute !== undefined && key.rateLimitPerMinute > 0)
  }
}
