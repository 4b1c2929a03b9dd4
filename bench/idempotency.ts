// Section h of `npm run bench`: what an Idempotency-Key costs. The same batch (three clock calls)
// unkeyed, keyed with a new key per request (claimed, started and answered in the store), and
// keyed with one key for all (every request after the first replays the record), on the embedded
// state and on Redis (a redis-server of the benchmark's own, on a free port). Per configuration: the
// server's CPU µs per request (its /proc times, as section g), autocannon's req/s and latency.
//
// Alone: `npm run bench -- --only idempotency` (prints the table, writes idempotency.md and
// idempotency.json into bench/results/local/). Env: BENCH_CPU_SECONDS (per round; default 5, 2
// with BENCH_QUICK=1), BENCH_CPU_ROUNDS (3).
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processCpuUs } from './cpu.ts'
import { clockBody } from './lib/bodies.ts'
import { runAlone } from './lib/alone.ts'
import type { LoadResult } from './lib/load-result.ts'
import { startChild, stopChild } from './lib/processes.ts'
import { median, round } from './lib/stats.ts'

const benchDir = new URL('./', import.meta.url)
const node = process.execPath
const quick = process.env.BENCH_QUICK === '1'
const connections = 16
const keyings = ['unkeyed', 'unique', 'fixed'] as const
const keyingLabels = { unkeyed: 'no key', unique: 'a new key per request', fixed: 'one key for all (replays)' }

interface Row {
  store: 'memory' | 'redis'
  keying: (typeof keyings)[number]
  cpuUsPerRequest: number
  requestsPerSecond: number
  latencyP50Ms: number
  latencyP99Ms: number
  failures: number
}

const children: ChildProcess[] = []

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const address = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}

async function startRedis(): Promise<string> {
  const port = await freePort()
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(redis)
  let output = ''
  await new Promise<void>((resolve, reject) => {
    redis.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) resolve()
    })
    redis.once('exit', () => {
      reject(new Error(`redis-server did not start: ${output}`))
    })
  })
  return `redis://127.0.0.1:${String(port)}`
}

async function round1(url: string, pid: number, bodyFile: string, keying: Row['keying'], seconds: number) {
  const before = processCpuUs(pid)
  const { child, line } = await startChild(
    children,
    node,
    [new URL('./load.ts', benchDir).pathname, `${url}/execute`, bodyFile, 'execute', String(connections), String(seconds)],
    keying === 'unkeyed' ? {} : { BENCH_IDEMPOTENCY: keying },
    /^\{/,
  )
  const cpuUs = processCpuUs(pid) - before
  await stopChild(child)
  const result = JSON.parse(line) as LoadResult
  return { ...result, cpuUsPerRequest: cpuUs / Math.max(1, result.total) }
}

export async function idempotencySection(log: (line: string) => void): Promise<Row[]> {
  const seconds = Number(process.env.BENCH_CPU_SECONDS ?? (quick ? 2 : 5))
  const rounds = Number(process.env.BENCH_CPU_ROUNDS ?? 3)
  const bodyFile = join(tmpdir(), `toolgate-bench-idempotency-${String(process.pid)}.json`)
  await writeFile(bodyFile, clockBody)
  const rows: Row[] = []
  try {
    const redisUrl = await startRedis()
    for (const store of ['memory', 'redis'] as const) {
      const env: Record<string, string> = { LOG_LEVEL: 'info', PORT: '0', ...(store === 'redis' ? { TOOLGATE_REDIS_URL: redisUrl } : {}) }
      const { child, line } = await startChild(
        children,
        node,
        [new URL('./gateway.ts', benchDir).pathname],
        env,
        /bench gateway listening at/,
      )
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
      if (url === undefined || child.pid === undefined) throw new Error('the gateway did not say where it listens')
      try {
        const results = new Map<Row['keying'], Array<Awaited<ReturnType<typeof round1>>>>(keyings.map((keying) => [keying, []]))
        for (const keying of keyings) await round1(url, child.pid, bodyFile, keying, Math.min(1, seconds))
        // Rounds alternate between the three, so that each sees the same moments of the machine.
        for (let index = 0; index < rounds; index++) {
          for (const keying of keyings) results.get(keying)?.push(await round1(url, child.pid, bodyFile, keying, seconds))
        }
        for (const keying of keyings) {
          const runs = results.get(keying) ?? []
          const row: Row = {
            store,
            keying,
            cpuUsPerRequest: round(median(runs.map((run) => run.cpuUsPerRequest))),
            requestsPerSecond: round(median(runs.map((run) => run.requestsPerSecond)), 0),
            latencyP50Ms: median(runs.map((run) => run.latencyP50Ms)),
            latencyP99Ms: median(runs.map((run) => run.latencyP99Ms)),
            failures: runs.reduce((sum, run) => sum + run.non2xx + run.errors + run.mismatched, 0),
          }
          rows.push(row)
          log(
            `  ${store}, ${keyingLabels[keying]}: ${String(row.cpuUsPerRequest)} µs CPU/request, ${String(row.requestsPerSecond)} req/s, p50 ${String(row.latencyP50Ms)} ms, p99 ${String(row.latencyP99Ms)} ms${row.failures > 0 ? `, ! ${String(row.failures)} failed` : ''}`,
          )
        }
      } finally {
        await stopChild(child)
      }
    }
  } finally {
    for (const child of children) await stopChild(child)
  }
  return rows
}

export function idempotencyTable(rows: Row[], seconds: number, rounds: number): string[] {
  return [
    `**h. The cost of an Idempotency-Key** (batch of three clock calls, LOG_LEVEL=info; autocannon, ${String(connections)} connections, ${String(seconds)} s a round, ${String(rounds)} rounds alternating between the three, medians; server CPU time from /proc):`,
    '',
    '| state | request | CPU µs/request | req/s | p50 ms | p99 ms | failed |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.store === 'redis' ? 'Redis (own redis-server, loopback)' : 'memory'} | ${keyingLabels[row.keying]} | ${String(row.cpuUsPerRequest)} | ${String(row.requestsPerSecond)} | ${String(row.latencyP50Ms)} | ${String(row.latencyP99Ms)} | ${String(row.failures)} |`,
    ),
    '',
  ]
}

if (import.meta.main) {
  const seconds = Number(process.env.BENCH_CPU_SECONDS ?? (quick ? 2 : 5))
  const rounds = Number(process.env.BENCH_CPU_ROUNDS ?? 3)
  await runAlone({
    name: 'idempotency',
    title: `h. the cost of an Idempotency-Key (autocannon, ${String(connections)} connections)`,
    children,
    run: idempotencySection,
    table: (rows) => idempotencyTable(rows, seconds, rounds),
  })
}
