import type { BatchObserver } from '../batch/observer.ts'
import { logsAt, type Logger } from './logger.ts'
import { clipped } from '../errors.ts'
import { maxLoggedIdChars, maxQuotedToolNameChars } from '../limits.ts'

/**
 * One log line per answered call: its tool, id, outcome, attempts and times; never its arguments
 * or result. None at a level that writes no info line: the line's fields would be made for nothing.
 */
export function callLog(log: Logger): BatchObserver | undefined {
  if (!logsAt(log, 'info')) return undefined
  return {
    callAnswered: ({ result }) => {
      log.info(
        {
          tool: clipped(result.name, maxQuotedToolNameChars),
          callId: clipped(result.id, maxLoggedIdChars),
          outcome: result.error?.code ?? 'ok',
          attempts: result.attempts,
          durationMs: result.durationMs,
          queuedMs: result.queuedMs,
        },
        'call answered',
      )
    },
  }
}
