import { setTimeout as delay } from 'node:timers/promises'

export interface BackoffPolicy {
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  /** A source of numbers in [0, 1); tests pin it. @default Math.random */
  random?: () => number
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(retry - 1))). */
export function backoffDelayMs(retry: number, policy: BackoffPolicy): number {
  const ceiling = Math.min(policy.retryMaxDelayMs, policy.retryBaseDelayMs * 2 ** (retry - 1))
  return (policy.random ?? Math.random)() * ceiling
}

/** Waits `ms`; false if the signal aborted first. Never rejects. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal })
    return true
  } catch {
    return false
  }
}
