import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { z } from 'zod'
import { Executor } from '../../../src/batch/executor.ts'
import { formatReply } from '../../../src/batch/format-reply.ts'
import { ToolRegistry } from '../../../src/tools/registry.ts'
import { WorkerPool } from '../../../src/tools/worker/worker-pool.ts'
import { defineWorkerTool } from '../../../src/tools/worker/worker-tool.ts'
import { testConfig } from '../../helpers/app.ts'

const work = new URL('../../fixtures/cpu-work.ts', import.meta.url)
const log = pino({ level: 'silent' })

function workerTools(pool: WorkerPool) {
  const common = { inputSchema: z.object({ ms: z.int().optional(), message: z.string().optional() }), module: work, pool }
  return [
    defineWorkerTool({ ...common, name: 'burn', description: 'Burns CPU.', exportName: 'burnCpu' }),
    defineWorkerTool({ ...common, name: 'spin', description: 'Spins forever.', exportName: 'spinForever', timeoutMs: 200 }),
    defineWorkerTool({ ...common, name: 'fail', description: 'Throws.', exportName: 'fail' }),
    defineWorkerTool({ ...common, name: 'unclonable', description: 'Returns a function.', exportName: 'returnFunction' }),
    defineWorkerTool({ ...common, name: 'missing', description: 'No such export.', exportName: 'nothing' }),
  ]
}

function call(id: string, name: string, args: object = {}) {
  return { id, name, arguments: JSON.stringify(args), path: id }
}

describe('CPU-bound tools on a worker pool', () => {
  it('runs them on worker threads, never on the event loop thread', async (t) => {
    const pool = new WorkerPool(2)
    t.after(() => pool.close())
    const executor = new Executor(new ToolRegistry(workerTools(pool)), testConfig())
    const reply = formatReply(await executor.execute([call('a', 'burn', { ms: 20 }), call('b', 'burn', { ms: 20 })], { log }))
    assert.equal(reply.status, 'complete')
    const threads = reply.results.map((result) => (result.output as { threadId: number }).threadId)
    assert.ok(
      threads.every((thread) => thread > 0),
      `ran on threads ${threads.join(', ')}`,
    )
    assert.ok((reply.results[0]?.output as { spunMs: number }).spunMs >= 19)
  })

  it('terminates a runaway worker at the deadline, answers timeout, and keeps serving on a fresh worker', async (t) => {
    const pool = new WorkerPool(1)
    t.after(() => pool.close())
    const executor = new Executor(new ToolRegistry(workerTools(pool)), testConfig())
    const first = formatReply(await executor.execute([call('a', 'spin')], { log }))
    assert.equal(first.results[0]?.error?.code, 'timeout')
    // The only worker was spinning; had it not been replaced, this call could never run.
    const second = formatReply(await executor.execute([call('b', 'burn', { ms: 1 })], { log }))
    assert.equal(second.status, 'complete')
  })

  it("answers a worker's failures as tool errors: a throw, an unclonable result, a missing export", async (t) => {
    const pool = new WorkerPool(1)
    t.after(() => pool.close())
    const executor = new Executor(new ToolRegistry(workerTools(pool)), testConfig())
    const reply = formatReply(
      await executor.execute([call('a', 'fail', { message: 'no luck' }), call('b', 'unclonable'), call('c', 'missing')], { log }),
    )
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      ['tool_error', 'tool_error', 'tool_error'],
    )
    const [thrown, unclonable, missing] = reply.results.map((result) => result.error?.message ?? '')
    assert.equal(thrown, 'no luck')
    assert.match(unclonable ?? '', /cannot leave its worker/)
    assert.match(missing ?? '', /no exported function "nothing"/)
  })

  it('runs no more jobs at once than it has workers, and queues the rest', async (t) => {
    const pool = new WorkerPool(2)
    t.after(() => pool.close())
    const results = (await Promise.all([1, 2, 3, 4].map(() => pool.run(work, 'burnCpu', { ms: 30 })))) as Array<{ threadId: number }>
    assert.equal(new Set(results.map((result) => result.threadId)).size, 2)
  })

  it('rejects what is still waiting when it closes', async () => {
    const pool = new WorkerPool(1)
    const running = assert.rejects(pool.run(work, 'burnCpu', { ms: 200 }), /closed/)
    const waiting = assert.rejects(pool.run(work, 'burnCpu', { ms: 1 }), /closed/)
    await pool.close()
    await Promise.all([running, waiting])
  })
})
