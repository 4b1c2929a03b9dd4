/** At most `requests` requests in any window of `perMs` milliseconds. */
export interface RateLimit {
  requests: number
  perMs: number
}

/**
 * Holds requests to an upstream to a few rate limits at once (per minute, per hour, per day),
 * first come first served. The windows slide: no span of `perMs`, wherever it starts, sees more
 * than `requests` granted, so a service counting in fixed windows (per clock minute, say) never
 * sees more either. It keeps the times of the last max(requests) grants and nothing else, and
 * has a timer only while a request waits.
 */
export class RateLimiter {
  readonly #limits: readonly RateLimit[]
  readonly #keep: number
  readonly #now: () => number
  /** When the latest grants were made, oldest first; at most 2 × #keep. */
  #granted: number[] = []
  readonly #waiting: Array<{ signal: AbortSignal; grant: () => void }> = []
  #timer: NodeJS.Timeout | undefined

  constructor(limits: readonly RateLimit[], now: () => number = () => performance.now()) {
    for (const { requests, perMs } of limits) {
      if (!Number.isInteger(requests) || requests < 1 || !(perMs > 0)) {
        throw new RangeError(
          `a rate limit is a positive whole number of requests per positive time, not ${String(requests)} per ${String(perMs)} ms`,
        )
      }
    }
    this.#limits = limits
    this.#keep = Math.max(0, ...limits.map((limit) => limit.requests))
    this.#now = now
  }

  /**
   * Resolves when one more request may be sent, counting it as sent; rejects with the signal's
   * reason if the signal is aborted first (the request is then not counted).
   */
  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error)
    if (this.#waiting.length === 0 && this.#delay() === 0) {
      this.#grant()
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiting.indexOf(waiter)
        if (index !== -1) this.#waiting.splice(index, 1)
        reject(signal.reason as Error)
        this.#serve()
      }
      const waiter = {
        signal,
        grant: () => {
          signal.removeEventListener('abort', onAbort)
          this.#grant()
          resolve()
        },
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(waiter)
      this.#serve()
    })
  }

  /** Requests waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length
  }

  /** Grants the waiting requests whose turn has come, and sets a timer for the next one. */
  #serve(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#waiting.length > 0) {
      const delayMs = this.#delay()
      if (delayMs > 0) {
        this.#timer = setTimeout(() => {
          this.#serve()
        }, Math.ceil(delayMs))
        return
      }
      this.#waiting.shift()?.grant()
    }
  }

  /** How long until one more request fits every limit: 0 if it does now. */
  #delay(): number {
    const now = this.#now()
    let delayMs = 0
    for (const { requests, perMs } of this.#limits) {
      // The grant `requests` places back leaves the window `perMs` after it was made.
      const oldest = this.#granted[this.#granted.length - requests]
      if (oldest !== undefined) delayMs = Math.max(delayMs, oldest + perMs - now)
    }
    return delayMs
  }

  #grant(): void {
    if (this.#keep === 0) return
    this.#granted.push(this.#now())
    if (this.#granted.length > 2 * this.#keep) this.#granted = this.#granted.slice(-this.#keep)
  }
}
