import type { Config } from '../config/env.ts'

/**
 * What the executor takes of the configuration (its bounds, deadlines, backoff and size limits),
 * each with its least value: 1 for a bound or deadline, 0 where none is meaningful.
 */
const optionMinimums = {
  concurrency: 1,
  maxQueuedCalls: 0,
  maxCallsPerRequest: 1,
  callTimeoutMs: 1,
  retryBaseDelayMs: 0,
  retryMaxDelayMs: 0,
  maxArgumentBytes: 2,
  maxArgumentDepth: 1,
  maxResultBytes: 1,
  maxAbandonedCalls: 1,
} as const satisfies Partial<Record<keyof Config, number>>

export type ExecutorOptions = Pick<Config, keyof typeof optionMinimums> & {
  /** Source of backoff jitter in [0, 1). @default Math.random */
  random?: () => number
}

/** The executor's options out of the whole configuration, and no more (no keys, no addresses). */
export function executorOptionsOf(config: Config, random?: () => number): ExecutorOptions {
  return checkedOptions({ ...config, ...(random ? { random } : {}) })
}

/** The options the executor keeps, each checked (a TypeError naming the option and its value); anything else given is left behind. */
export function checkedOptions(options: ExecutorOptions): ExecutorOptions {
  const kept: Record<string, unknown> = {}
  for (const [option, minimum] of Object.entries(optionMinimums)) {
    const value: unknown = options[option as keyof typeof optionMinimums]
    if (!(Number.isSafeInteger(value) && (value as number) >= minimum)) {
      throw new TypeError(`Executor option ${option} must be an integer from ${String(minimum)} up, got ${String(value)} (${typeof value})`)
    }
    kept[option] = value
  }
  if (options.random !== undefined && typeof options.random !== 'function') {
    throw new TypeError(`Executor option random must be a function, got ${typeof options.random}`)
  }
  return { ...(kept as Omit<ExecutorOptions, 'random'>), ...(options.random ? { random: options.random } : {}) }
}
