import { pino, type LogFn, type Logger as PinoLogger } from 'pino'
import type { Config } from '../config/env.ts'
import { LineBatch } from './line-batch.ts'

/** The logging the executor and tools need: pino's, or Fastify's request logger. */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
  child(bindings: Record<string, unknown>): Logger
  /** Whether a line at `level` would be written (pino's); see logsAt. */
  isLevelEnabled?(level: string): boolean
}

/** Whether `log` writes lines at `level`: pino's answer, or yes for a logger that cannot tell. */
export function logsAt(log: Pick<Logger, 'isLevelEnabled'>, level: 'debug' | 'info'): boolean {
  return log.isLevelEnabled?.(level) !== false
}

/** What a buffered destination holds is written at least this often, so that a quiet gateway's lines are not held back. */
const flushEveryMs = 250
/**
 * Lines are written once this many characters of them are gathered. Each write costs a system call,
 * a hop to libuv's thread pool and back, and wakes whatever reads stdout: at 16 KiB a line cost
 * about a fifth more CPU than at 64 KiB (`node bench/log-lines.ts`). The price is up to 64 KiB of
 * lines held back, for 250 ms at most.
 */
const batchChars = 65_536

/** The gateway's destination for its lines on `fd`: gathered `chars` at a time, written asynchronously. */
export function batchedDestination(fd: 1 | 2, chars = batchChars): LineBatch {
  // sonic-boom writes each batch as soon as it gets it (minLength 1, so that its flush(callback) waits for the write).
  return new LineBatch(pino.destination({ dest: fd, sync: false, minLength: 1 }), chars)
}

/** A logger writing to stdout, and what flushes it. */
export interface StdoutLogger {
  logger: PinoLogger
  /** Starts writing what is buffered, without waiting for it. */
  flush: () => void
  /** Writes what is buffered and stops the timer; lines logged afterwards are still written, at the latest on exit. */
  close: () => void
}

/**
 * The gateway's JSON lines on stdout, at `config.logLevel`. They are buffered, 64 KiB at a time (or
 * every 250 ms), and written asynchronously: a write to stdout per line costs a system call per
 * line. Nothing buffered is lost on exit: pino flushes such a destination synchronously on
 * process.exit() and on a fatal exception, `fatal()` flushes it, and flushLog / flushLogSync do
 * it where a line must be out at once (the server listening, a shutdown, a stray failure).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, stream: 'stdout' | 'stderr' = 'stdout'): StdoutLogger {
  const options = { level: config.logLevel, redact: ['req.headers.authorization'] }
  // Silent writes nothing: no destination, no timer (tests build many such apps).
  if (config.logLevel === 'silent')
    return { logger: pino(options, { write: () => undefined }), flush: () => undefined, close: () => undefined }
  const destination = batchedDestination(stream === 'stdout' ? 1 : 2)
  const flush = () => {
    try {
      destination.flush()
    } catch {
      // Ended (pino ends it on beforeExit): there is nothing left to write.
      clearInterval(timer)
    }
  }
  const timer = setInterval(flush, flushEveryMs)
  timer.unref()
  return {
    logger: pino(options, destination),
    flush,
    close: () => {
      clearInterval(timer)
      flush()
    },
  }
}

/** The destination of a pino logger (or of its children), if `log` is one. */
function destinationOf(log: object): { flush?: unknown; flushSync?: unknown } | undefined {
  const stream = (log as Record<symbol, unknown>)[pino.symbols.streamSym]
  return typeof stream === 'object' && stream !== null ? stream : undefined
}

/**
 * Writes what `log`'s destination has buffered, in order; resolves once it is written (at once for
 * an unbuffered destination; after `timeoutMs` at most, for a stdout nobody reads). A flush that
 * finds a write in flight ends when that write does, possibly with lines still buffered behind it:
 * they are written synchronously then, when nothing is in flight to overtake.
 */
export async function flushLog(log: object, timeoutMs = 1_000): Promise<void> {
  const destination = destinationOf(log)
  if (typeof destination?.flush !== 'function') return
  const flush = destination.flush as (callback: (error?: Error) => void) => void
  const flushed = await new Promise<boolean>((resolve) => {
    const timeout = setTimeout(() => {
      resolve(false)
    }, timeoutMs)
    timeout.unref()
    const done = () => {
      clearTimeout(timeout)
      resolve(true)
    }
    try {
      flush.call(destination, done)
    } catch {
      done()
    }
  })
  if (flushed) flushLogSync(log)
}

/**
 * Writes what `log`'s destination has buffered before returning, for a process about to exit at
 * once (pino does it too on exit). A write already in flight is not waited for: flushLog is the
 * exact one.
 */
export function flushLogSync(log: object): void {
  const destination = destinationOf(log)
  if (typeof destination?.flushSync !== 'function') return
  try {
    ;(destination.flushSync as () => void).call(destination)
  } catch {
    // A destroyed or not yet open destination: nothing more can be written.
  }
}
