import type { CancelScope } from './cancel-scope.ts'

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

/** Waits `ms`; false if the scope is cancelled first. Never rejects. */
export function sleep(ms: number, scope: CancelScope): Promise<boolean> {
  if (scope.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      unsubscribe()
      resolve(true)
    }, ms)
    const unsubscribe = scope.onAbort(() => {
      clearTimeout(timer)
      resolve(false)
    })
  })
}
