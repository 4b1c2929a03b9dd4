import type { LogFn } from 'pino'

/** The logging the executor and tools need: pino's, or Fastify's request logger. */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
  child(bindings: Record<string, unknown>): Logger
}
