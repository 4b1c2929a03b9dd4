import type { BatchObserver } from '../batch/observer.ts'
import type { Logger } from './logger.ts'

/** One log line per answered call: its tool, id, outcome, attempts and times; never its arguments or result. */
export function callLog(log: Logger): BatchObserver {
  return {
    callAnswered: ({ result }) => {
      log.info(
        {
          tool: result.name,
          callId: result.id,
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
