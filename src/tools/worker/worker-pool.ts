import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { describeThrown, ToolError } from '../../errors.ts'

interface Job {
  moduleUrl: string
  exportName: string
  args: unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

interface Slot {
  worker: Worker
  job: Job | undefined
}

/** What a pool worker posts back for one job. */
export type WorkerReply = { ok: true; value: unknown } | { ok: false; message: string; retryable: boolean }

const workerEntry = new URL('./pool-worker.ts', import.meta.url)

/**
 * Runs CPU-bound tool functions on worker threads, one job per worker at a time, so that they
 * neither block the event loop nor each other beyond the number of cores. A job whose signal
 * aborts (its deadline, its client gone) has its worker terminated and replaced: synchronous code
 * cannot be interrupted any other way, and it must not keep a core busy for nobody.
 */
export class WorkerPool {
  readonly size: number
  readonly #slots: Slot[] = []
  readonly #waiting: Job[] = []
  #closed = false

  /** @param size Workers in the pool. @default the machine's available parallelism */
  constructor(size: number = availableParallelism()) {
    if (!(Number.isInteger(size) && size > 0)) throw new TypeError(`WorkerPool size must be a positive integer, got ${String(size)}`)
    this.size = size
  }

  /** Calls `export` of the module at `moduleUrl` with `args` on a worker; its return value (structured-cloned) is the result. */
  run(moduleUrl: URL, exportName: string, args: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the worker pool is closed'))
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the abort reason is the caller's to choose
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise((resolve, reject) => {
      const job: Job = { moduleUrl: moduleUrl.href, exportName, args, resolve, reject, signal, onAbort: undefined }
      if (signal !== undefined) {
        job.onAbort = () => {
          this.#cancel(job)
        }
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.#waiting.push(job)
      this.#dispatch()
    })
  }

  /** Terminates every worker; jobs in flight or waiting are rejected. */
  async close(): Promise<void> {
    this.#closed = true
    for (const job of this.#waiting.splice(0))
      this.#finish(job, () => {
        job.reject(new Error('the worker pool closed'))
      })
    await Promise.all(
      this.#slots.splice(0).map((slot) => {
        if (slot.job)
          this.#finish(slot.job, () => {
            slot.job?.reject(new Error('the worker pool closed'))
          })
        return slot.worker.terminate()
      }),
    )
  }

  #dispatch(): void {
    while (this.#waiting.length > 0) {
      const slot = this.#slots.find((candidate) => candidate.job === undefined) ?? this.#spawn()
      if (slot === undefined) return
      const job = this.#waiting.shift()
      if (job === undefined) return
      slot.job = job
      slot.worker.postMessage({ moduleUrl: job.moduleUrl, exportName: job.exportName, args: job.args })
    }
  }

  #spawn(): Slot | undefined {
    if (this.#slots.length >= this.size) return undefined
    const slot: Slot = { worker: new Worker(workerEntry), job: undefined }
    slot.worker.unref()
    slot.worker.on('message', (reply: WorkerReply) => {
      const { job } = slot
      if (job === undefined) return
      slot.job = undefined
      this.#finish(job, () => {
        if (reply.ok) job.resolve(reply.value)
        else job.reject(new ToolError(reply.message, { retryable: reply.retryable }))
      })
      this.#dispatch()
    })
    slot.worker.on('error', (error) => {
      // The worker died (an uncaught throw, out of memory): its job fails, a fresh worker takes its place.
      this.#replace(slot, new ToolError(`the tool's worker failed: ${describeThrown(error)}`))
    })
    slot.worker.on('exit', () => {
      if (this.#slots.includes(slot)) this.#replace(slot, new ToolError("the tool's worker exited"))
    })
    this.#slots.push(slot)
    return slot
  }

  #cancel(job: Job): void {
    const waitingAt = this.#waiting.indexOf(job)
    if (waitingAt !== -1) {
      this.#waiting.splice(waitingAt, 1)
      this.#finish(job, () => {
        job.reject(job.signal?.reason)
      })
      return
    }
    const slot = this.#slots.find((candidate) => candidate.job === job)
    if (slot !== undefined) this.#replace(slot, job.signal?.reason)
  }

  /** Ends a worker whose job cannot finish normally, fails that job, and lets the next one start on a fresh worker. */
  #replace(slot: Slot, reason: unknown): void {
    const at = this.#slots.indexOf(slot)
    if (at !== -1) this.#slots.splice(at, 1)
    const { job } = slot
    slot.job = undefined
    if (job !== undefined)
      this.#finish(job, () => {
        job.reject(reason)
      })
    void slot.worker.terminate()
    if (!this.#closed) this.#dispatch()
  }

  #finish(job: Job, settle: () => void): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort)
    settle()
  }
}
