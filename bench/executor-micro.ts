// In-process cost of the executor, no HTTP: batches of three calls of a synchronous no-op tool and
// of the built-in get_time through runBatch (with the call log, metrics and a reply's formatting),
// and the metrics' callAnswered alone. Prints the medians of several runs, CPU time (the process's,
// GC threads included) and wall time, in µs per batch.
// Usage: node bench/executor-micro.ts [batches per run] [runs]
import { pino } from 'pino'
import { z } from 'zod'
import { executorOptionsOf } from '../src/batch/executor-options.ts'
import { fitResult } from '../src/batch/fit-result.ts'
import { Executor } from '../src/batch/executor.ts'
import { composeObservers } from '../src/batch/observer.ts'
import { runBatch } from '../src/batch/run-batch.ts'
import { loadConfig } from '../src/config/env.ts'
import { callLog } from '../src/observability/call-log.ts'
import { Metrics } from '../src/observability/metrics.ts'
import { openaiChat } from '../src/providers/openai-chat.ts'
import type { DecodedPayload } from '../src/providers/index.ts'
import type { RawToolCall } from '../src/providers/provider.ts'
import { createGetTime } from '../src/tools/builtin/get-time.ts'
import { handOver } from '../src/tools/content.ts'
import { ToolRegistry } from '../src/tools/registry.ts'
import { defineTool } from '../src/tools/tool.ts'

const batches = Number(process.argv[2] ?? 20_000)
const runs = Number(process.argv[3] ?? 7)
const log = pino({ level: 'silent' })

const noop = defineTool({
  name: 'noop',
  description: 'Answers at once.',
  inputSchema: z.object({}),
  execute: () => ({ ok: true }),
})
const executor = new Executor(new ToolRegistry([noop, createGetTime()]), executorOptionsOf(loadConfig({ LOG_LEVEL: 'silent' })))
const metrics = new Metrics(() => executor.stats)

const calls = (name: string, args: object): RawToolCall[] =>
  ['a', 'b', 'c'].map((id) => ({ id: `call_${id}`, name, arguments: JSON.stringify(args), path: `tool_calls[${id}]` }))
const payload = (name: string, args: object): DecodedPayload => ({ provider: openaiChat, shape: 'message', calls: calls(name, args) })

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN

async function measure(label: string, once: () => unknown): Promise<void> {
  for (let index = 0; index < 2_000; index++) await once()
  const wall: number[] = []
  const cpu: number[] = []
  for (let run = 0; run < runs; run++) {
    const started = performance.now()
    const usage = process.cpuUsage()
    for (let index = 0; index < batches; index++) await once()
    const used = process.cpuUsage(usage)
    wall.push(((performance.now() - started) * 1000) / batches)
    cpu.push((used.user + used.system) / batches)
  }
  const shown = (values: number[]) => values.map((value) => value.toFixed(1)).join(' ')
  console.log(`${label.padEnd(44)} cpu ${median(cpu).toFixed(2)} µs/batch, wall ${median(wall).toFixed(2)} (cpu runs: ${shown(cpu)})`)
}

for (const [label, name, args] of [
  ['noop x3', 'noop', {}],
  ['get_time x3', 'get_time', { timezone: 'Europe/Paris' }],
] as const) {
  const decoded = payload(name, args)
  await measure(`executor.execute, ${label}`, () => executor.execute(decoded.calls, { log }))
  await measure(`runBatch + call log + metrics, ${label}`, () =>
    runBatch(executor, { payload: decoded, log, observer: composeObservers(callLog(log), metrics) }),
  )
}

const answered = (await executor.execute(calls('noop', {}), { log })).calls
await measure('metrics.callAnswered x3 (alone)', () => {
  for (const call of answered) metrics.callAnswered(call)
})

// What fitting three results costs: a result of get_time's shape is copied (its tool may hold it),
// one handed over is not (as the HTTP tool's parsed body is).
const timeLike = () => ({ timezone: 'Europe/Paris', datetime: '2026-07-01T14:00:00.000+02:00', time: '14:00:00', utc_offset: '+02:00' })
await measure('fitResult x3, copied', () => {
  for (let index = 0; index < 3; index++) fitResult('get_time', timeLike(), 1_000_000)
})
await measure('fitResult x3, handed over', () => {
  for (let index = 0; index < 3; index++) fitResult('get_time', handOver(timeLike()), 1_000_000)
})
