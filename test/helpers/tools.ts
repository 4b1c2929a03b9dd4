import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { ToolError } from '../../src/errors.ts'
import { defineTool, type Tool } from '../../src/tools/tool.ts'

/** Waits `ms` (honouring its signal) and answers `{ waited: ms }`. */
export const sleepTool = defineTool({
  name: 'sleep',
  description: 'Waits, then answers.',
  inputSchema: z.object({ ms: z.int().min(0).max(60_000) }),
  async execute({ ms }, { signal }) {
    await delay(ms, undefined, { signal })
    return { waited: ms }
  },
})

/** Ignores its signal and never settles: the worst tool there is. */
export function hangTool(options: Partial<Tool> = {}): Tool {
  return defineTool({
    name: 'hang',
    description: 'Never answers and ignores cancellation.',
    inputSchema: z.object({}),
    execute: () => new Promise<never>(() => undefined),
    ...options,
  })
}

/** Throws what it is asked to: an Error, a string, null, a plain object or a number. */
export const throwTool = defineTool({
  name: 'throw',
  description: 'Throws.',
  inputSchema: z.object({ kind: z.enum(['error', 'string', 'null', 'object', 'number', 'undefined']) }),
  execute({ kind }): never {
    const thrown = {
      error: new Error('disk on fire'),
      string: 'a bare string',
      null: null,
      object: { reason: 'quota' },
      number: 42,
      undefined,
    }[kind]
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- throwing non-Errors is the point
    throw thrown
  },
})

/** Returns a value JSON cannot carry. */
export const unserializableTool = defineTool({
  name: 'unserializable',
  description: 'Returns a cycle or a BigInt.',
  inputSchema: z.object({ kind: z.enum(['cycle', 'bigint']) }),
  execute({ kind }) {
    if (kind === 'bigint') return { big: 10n }
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    return cycle
  },
})

/** Fails `failures` times with a retryable ToolError, then succeeds; records when each attempt started. */
export function flakyTool(failures: number, options: Partial<Tool> = {}) {
  const attemptsAt: number[] = []
  const tool = defineTool({
    name: 'flaky',
    description: 'Fails, then succeeds.',
    inputSchema: z.object({}),
    retries: 5,
    execute(_args, { attempt }) {
      attemptsAt.push(performance.now())
      if (attempt <= failures) throw new ToolError(`upstream is down (attempt ${String(attempt)})`, { retryable: true })
      return { attempt }
    },
    ...options,
  })
  return { tool, attemptsAt }
}

/** Counts how many of its calls run at once. */
export function concurrencyProbe(name: string, ms: number, options: Partial<Tool> = {}) {
  const stats = { running: 0, peak: 0, started: 0, aborted: 0 }
  const tool = defineTool({
    name,
    description: 'Waits and counts concurrent runs.',
    inputSchema: z.object({}),
    async execute(_args, { signal }) {
      stats.running++
      stats.started++
      stats.peak = Math.max(stats.peak, stats.running)
      try {
        await delay(ms, undefined, { signal })
        return { ok: true }
      } catch (error) {
        stats.aborted++
        throw error
      } finally {
        stats.running--
      }
    },
    ...options,
  })
  return { tool, stats }
}
