import { register, registerBeforeExit } from 'on-exit-leak-free'
import type { pino } from 'pino'

/** What pino.destination makes; `destroyed` once ended. */
type SonicBoom = ReturnType<typeof pino.destination> & { readonly destroyed: boolean }

/**
 * Log lines gathered in front of a sonic-boom destination and handed to it joined, `minChars` at
 * a time. sonic-boom buffers on its own too, but on every write it measures the UTF-8 length of
 * all the text it holds (`Buffer.byteLength` of a string built by `+=`, which flattens it first):
 * at four lines per request that cost ~9 µs of CPU per request. Here a line costs a push.
 *
 * It is the stream pino writes to, and has sonic-boom's flushing surface: `flush(callback)` and
 * `flushSync()` hand the gathered lines on first, so pino's `fatal()` (which calls flushSync) and
 * the gateway's own flushes see every line. On exit, the lines still gathered are written
 * synchronously; on `beforeExit` they are handed on while the event loop can still write them.
 */
export class LineBatch {
  readonly destination: SonicBoom
  readonly minChars: number
  #lines: string[] = []
  #chars = 0

  constructor(destination: ReturnType<typeof pino.destination>, minChars: number) {
    this.destination = destination as SonicBoom
    this.minChars = minChars
    // Held weakly (pino does the same for its destinations): a logger nobody uses any more is not kept for the exit.
    register(this, (batch) => {
      batch.flushSync()
    })
    registerBeforeExit(this, (batch) => {
      batch.#handOn()
    })
  }

  write(line: string): boolean {
    this.#lines.push(line)
    this.#chars += line.length
    if (this.#chars >= this.minChars) this.#handOn()
    return true
  }

  /** Hands the lines on and asks the destination to write; `callback` once it has written them. */
  flush(callback?: (error?: Error) => void): void {
    this.#handOn()
    this.destination.flush(callback)
  }

  /** Writes every line before returning. */
  flushSync(): void {
    this.#handOn()
    if (!this.destination.destroyed) this.destination.flushSync()
  }

  #handOn(): void {
    if (this.#lines.length === 0) return
    const text = this.#lines.join('')
    this.#lines = []
    this.#chars = 0
    // Ended (pino ends it on beforeExit once it has drained): nothing more can be written.
    if (!this.destination.destroyed) this.destination.write(text)
  }
}
