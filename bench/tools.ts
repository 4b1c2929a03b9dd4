// The tools a benchmark gateway serves besides the built-in ones.
import { z } from 'zod'
import { ToolError } from '../src/errors.ts'
import { defineTool, type Tool } from '../src/tools/tool.ts'
import { defineWorkerTool } from '../src/tools/worker/worker-tool.ts'

const cpuWork = new URL('../test/fixtures/cpu-work.ts', import.meta.url)

/** Three instant tools: what is left of a batch's cost is toolgate's own. */
export const noopTools: Tool[] = ['noop_a', 'noop_b', 'noop_c'].map((name) =>
  defineTool({ name, description: 'Answers its argument at once.', inputSchema: z.object({ a: z.string() }), execute: (args) => args }),
)

/** Waits `ms` on a local upstream (GET /wait?ms=), as an I/O-bound tool does. */
export function upstreamWaitTool(upstreamUrl: string): Tool {
  return defineTool({
    name: 'upstream_wait',
    description: 'Waits on a local upstream.',
    inputSchema: z.object({ ms: z.int().min(0).max(10_000) }),
    async execute({ ms }, { signal }) {
      const response = await fetch(`${upstreamUrl}/wait?ms=${String(ms)}`, { signal })
      if (!response.ok) throw new ToolError(`upstream answered HTTP ${String(response.status)}`)
      return await response.json()
    },
  })
}

const burnSchema = z.object({ ms: z.int().min(0).max(1_000) })

/** Burns the CPU on the event loop thread: what a naive CPU-bound tool does. */
export const burnOnMainThread: Tool = defineTool({
  name: 'burn_main',
  description: 'Burns CPU on the event loop thread.',
  inputSchema: burnSchema,
  execute({ ms }) {
    const started = performance.now()
    let x = 0
    while (performance.now() - started < ms) x += Math.sqrt(x + 1)
    return { spunMs: Math.round(performance.now() - started), x: x > 0 }
  },
})

/** The same work on toolgate's worker pool (one worker per core). */
export const burnOnWorkers: Tool = defineWorkerTool({
  name: 'burn_worker',
  description: 'Burns CPU on a worker thread.',
  inputSchema: burnSchema,
  module: cpuWork,
  exportName: 'burnCpu',
})
