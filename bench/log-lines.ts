// CPU time per log line of toolgate's buffered stdout destination (src/observability/logger.ts), for
// several batch sizes: a call line through a request's child logger, written to stdout in batches
// of that many characters, the event loop turning every 50 lines as a busy gateway's does.
// The process's CPU time (the write's thread pool included), median of five runs.
// Usage: node bench/log-lines.ts [chars per batch ...] > /dev/null   (default: 4096 16384 65536 131072)
import { spawnSync } from 'node:child_process'
import { pino } from 'pino'
import { batchedDestination } from '../src/observability/logger.ts'
import { median } from './lib/stats.ts'

const sizes = process.argv.slice(2).map(Number)
if (sizes.length !== 1) {
  // Each size in a process of its own, so that one's heap and compiled code do not favour the next.
  for (const size of sizes.length === 0 ? [4_096, 16_384, 65_536, 131_072] : sizes) {
    spawnSync(process.execPath, [import.meta.filename, String(size)], { stdio: 'inherit' })
  }
  process.exit(0)
}
const chars = sizes[0] ?? 0
const lines = 400_000
const batch = batchedDestination(1, chars)
const log = pino({ level: 'info' }, batch).child({ reqId: '2cef56fa-1997-4383-ac80-e6d972c20ae0' })
const turn = () => new Promise((resolve) => setImmediate(resolve))

async function run(count: number): Promise<number> {
  const usage = process.cpuUsage()
  for (let index = 0; index < count; index++) {
    log.info({ tool: 'get_time', callId: 'call_0', outcome: 'ok', attempts: 1, durationMs: 0.67, queuedMs: 0 }, 'call answered')
    if (index % 50 === 0) await turn()
  }
  const used = process.cpuUsage(usage)
  return ((used.user + used.system) * 1000) / count
}

await run(100_000)
const runs: number[] = []
for (let round = 0; round < 5; round++) runs.push(await run(lines))
process.stderr.write(
  `${String(chars).padStart(7)} chars a batch: ${median(runs).toFixed(0)} ns CPU per line (runs: ${runs.map((ns) => ns.toFixed(0)).join(' ')})\n`,
)
batch.flushSync()
