import type { z } from 'zod'
import type { Tool } from '../tool.ts'
import { WorkerPool } from './worker-pool.ts'

let sharedPool: WorkerPool | undefined

/** The process's pool for CPU-bound tools, sized to the cores, made on first use. */
export function sharedWorkerPool(): WorkerPool {
  return (sharedPool ??= new WorkerPool())
}

export interface WorkerToolDefinition<Input extends z.ZodType> extends Omit<Tool<Input>, 'execute'> {
  /** The module whose export does the work; it runs on a worker thread and gets the validated arguments. */
  module: URL
  exportName: string
  /** @default the shared pool, one worker per core */
  pool?: WorkerPool
}

/**
 * A CPU-bound tool: validated on the main thread like any other, run on a worker thread so that
 * it blocks neither the event loop nor more cores than there are. At its deadline its worker is
 * terminated, which is the only way to stop synchronous code.
 */
export function defineWorkerTool<Input extends z.ZodType>(definition: WorkerToolDefinition<Input>): Tool<Input> {
  const { module, exportName, pool, ...tool } = definition
  return {
    ...tool,
    execute: (args, { signal }) => (pool ?? sharedWorkerPool()).run(module, exportName, args, signal),
  }
}
