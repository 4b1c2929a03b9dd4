import { flushLog, type Logger } from './logger.ts'
import { maxUncaughtFailuresPerMinute } from '../limits.ts'

/**
 * Keeps one tool's stray failure from taking every other call down with the process. A promise a
 * tool leaves rejected, or an exception it throws from a callback of its own (a timer, an event
 * handler) after its call was answered or while it runs, has no call to be reported to: it is
 * logged and counted, and the gateway serves on; the call it belonged to, if any, is still
 * answered at its deadline. The process exits only if such failures come faster than `maxPerMinute`,
 * which says that something is broken for good (a restart is then the better answer). Each such
 * line is flushed at once: the logger buffers, and these are the lines an operator looks for.
 */
export function installProcessGuards(log: Logger, options: { maxPerMinute?: number; onFailure?: () => void } = {}): void {
  const maxPerMinute = options.maxPerMinute ?? maxUncaughtFailuresPerMinute
  let windowStart = performance.now()
  let inWindow = 0
  let exiting = false
  const record = () => {
    options.onFailure?.()
    const now = performance.now()
    if (now - windowStart > 60_000) {
      windowStart = now
      inWindow = 0
    }
    if (++inWindow > maxPerMinute && !exiting) {
      exiting = true
      log.error(`more than ${String(maxPerMinute)} uncaught failures in a minute: exiting`)
      // Every line out first, in order (a second at most).
      void flushLog(log).finally(() => process.exit(70))
    }
  }
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled rejection (a tool left a promise unhandled); serving on')
    record()
    void flushLog(log)
  })
  process.on('uncaughtException', (error, origin) => {
    log.error({ err: error, origin }, 'uncaught exception (a tool threw outside its call); serving on')
    record()
    void flushLog(log)
  })
}
