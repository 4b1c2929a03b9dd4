import { parentPort } from 'node:worker_threads'
import { describeThrown } from '../../errors.ts'
import type { WorkerReply } from './worker-pool.ts'

// A WorkerPool thread: runs one exported function per message and posts its result back.
const modules = new Map<string, Promise<Record<string, unknown>>>()

async function run(moduleUrl: string, exportName: string, args: unknown): Promise<unknown> {
  let loading = modules.get(moduleUrl)
  if (loading === undefined) {
    loading = import(moduleUrl) as Promise<Record<string, unknown>>
    modules.set(moduleUrl, loading)
  }
  const fn = (await loading)[exportName]
  if (typeof fn !== 'function') throw new TypeError(`${moduleUrl} has no exported function "${exportName}"`)
  return await (fn as (args: unknown) => unknown)(args)
}

parentPort?.on('message', (job: { moduleUrl: string; exportName: string; args: unknown }) => {
  const post = (reply: WorkerReply) => {
    parentPort?.postMessage(reply)
  }
  run(job.moduleUrl, job.exportName, job.args).then(
    (value) => {
      try {
        post({ ok: true, value })
      } catch (error) {
        post({ ok: false, message: `the tool returned a value that cannot leave its worker: ${describeThrown(error)}`, retryable: false })
      }
    },
    (error: unknown) => {
      const retryable = typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true
      post({ ok: false, message: describeThrown(error), retryable })
    },
  )
})
