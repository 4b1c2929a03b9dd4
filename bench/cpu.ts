// Section g of `npm run bench`: the server's own CPU time per request, next to a bare Fastify
// echo of the same body, in four configurations, then rows that are not toolgate. A calibration:
// the echo doing 40 µs of busy work per request in toolgate's place, which shows what that much
// pure work does to the figures (more than 40 µs: a server that answers later leaves the load
// generator idle, and each reply then wakes it). A floor: bench/floor.ts, a bare route doing only
// toolgate's decode, batch run and log lines, which tells how much of toolgate's figure is that
// work and how much its shell; and the same floor answering every request after the first with the
// first one's reply bytes (BENCH_FLOOR_REPLAY), which tells how much of the work is the batch run
// (executor, tools, call lines, serialization) and how much the decode, access line and reply
// around it. Each server runs in its own process, logging to a pipe that is
// drained (so that logging costs what it costs); its CPU time (utime + stime) is read from
// /proc/<pid>/stat before and after each load round. Rounds alternate, echo then toolgate, so
// that both see the same moments of a machine that may be busy; each figure is the median of the
// rounds, and each ratio the median of the rounds' own ratios. Each server is warmed up first, alone,
// for long enough that V8 has settled its code: toolgate's CPU per request goes on falling for its
// first 40,000-90,000 requests (the echo's, with less code, for about 20,000), so a short warm-up
// measures toolgate while it is still being compiled, which a gateway that stays up does not pay.
//
// Alone: `npm run bench -- --only cpu` (prints the table, writes cpu.md and cpu.json into
// bench/results/local/). bench/run.ts runs it with --json: progress on stderr, one JSON line on
// stdout. Env: BENCH_CPU_SECONDS (per round; default 5, 2 with BENCH_QUICK=1), BENCH_CPU_ROUNDS (3),
// BENCH_CPU_WARMUP_SECONDS (per server; default 10, 2 with BENCH_QUICK=1).
import { spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clockBody, noopBody } from './lib/bodies.ts'
import { localDir, writeResults } from './lib/output.ts'
import type { LoadResult } from './lib/load-result.ts'
import { startChild, stopChild } from './lib/processes.ts'
import { median, round } from './lib/stats.ts'

const benchDir = new URL('./', import.meta.url)
const node = process.execPath
const quick = process.env.BENCH_QUICK === '1'
/** autocannon's connections in every round, as in section c. */
export const cpuConnections = 16
const apiKey = 'bench-key-0123456789abcdef'

/** One server's medians over the rounds. */
export interface ServerFigures {
  /** User and system CPU time. */
  cpuUsPerRequest: number
  /** The system (kernel) part of it: the socket reads and writes, and waking whoever reads them. */
  systemUsPerRequest: number
  requestsPerSecond: number
}

export interface CpuRow {
  /** What the configuration is, as the table says it. */
  label: string
  rounds: number
  seconds: number
  /** Load each server took alone before the rounds. */
  warmupSeconds: number
  toolgate: ServerFigures
  echo: ServerFigures
  /** Median of the rounds' toolgate / echo ratios. */
  cpuRatio: number
  requestsPerSecondRatio: number
  /** Responses that were not 200, failed connections and bodies that failed the check, summed over the toolgate rounds. */
  failures: number
}

interface Configuration {
  label: string
  env: Record<string, string>
  body: string
  /** Sent with every request, and with the metrics scrapes. */
  authorization?: string
  /** GET /metrics once a second while toolgate is under load. */
  scrapeMetrics?: boolean
  /** Loaded in toolgate's place: the echo itself doing this many µs of busy work per request. */
  busyEchoUs?: number
  /** Loaded in toolgate's place: bench/floor.ts. */
  floor?: boolean
}

const configurations: Configuration[] = [
  { label: 'default (LOG_LEVEL=info, metrics; get_time, get_date, get_time)', env: { LOG_LEVEL: 'info' }, body: clockBody },
  { label: 'LOG_LEVEL=warn (same batch)', env: { LOG_LEVEL: 'warn' }, body: clockBody },
  { label: 'three synchronous no-op tools (LOG_LEVEL=warn)', env: { LOG_LEVEL: 'warn' }, body: noopBody },
  {
    label: 'API keys + rate limit (10,000,000/min, none refused) + a metrics scrape every second',
    env: { LOG_LEVEL: 'info', TOOLGATE_API_KEYS: apiKey, TOOLGATE_RATE_LIMIT_PER_MINUTE: '10000000' },
    body: clockBody,
    authorization: `Bearer ${apiKey}`,
    scrapeMetrics: true,
  },
  {
    label: 'calibration, not toolgate: the echo itself with 40 µs of busy work per request (LOG_LEVEL=warn)',
    env: { LOG_LEVEL: 'warn' },
    body: clockBody,
    busyEchoUs: 40,
  },
  {
    label: "floor, not toolgate: a bare route doing only toolgate's decode, batch run and log lines (LOG_LEVEL=info; default row's batch)",
    env: { LOG_LEVEL: 'info' },
    body: clockBody,
    floor: true,
  },
  {
    label:
      "floor without the batch, not toolgate: the same route decoding each body and answering the first request's reply bytes again, no call run (LOG_LEVEL=info)",
    env: { LOG_LEVEL: 'info', BENCH_FLOOR_REPLAY: '1' },
    body: clockBody,
    floor: true,
  },
  {
    label: 'floor, not toolgate: the same with the three no-op tools (LOG_LEVEL=warn)',
    env: { LOG_LEVEL: 'warn' },
    body: noopBody,
    floor: true,
  },
]

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ; 100 on Linux, asked of getconf when it can answer). */
const ticksPerSecond = (() => {
  const answer = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const ticks = Number(answer.stdout.trim())
  return answer.status === 0 && Number.isInteger(ticks) && ticks > 0 ? ticks : 100
})()

/** CPU time the process has used in user mode and in the kernel, in µs, from /proc/<pid>/stat. */
function processCpuTimes(pid: number): { userUs: number; systemUs: number } {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
  // Fields after the command name (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { userUs: (Number(fields[11]) / ticksPerSecond) * 1e6, systemUs: (Number(fields[12]) / ticksPerSecond) * 1e6 }
}

/** CPU time the process has used, user and system, in µs. */
export function processCpuUs(pid: number): number {
  const { userUs, systemUs } = processCpuTimes(pid)
  return userUs + systemUs
}

const children: ChildProcess[] = []

async function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  return startChild(children, node, args, env, ready)
}

interface Server {
  child: ChildProcess
  pid: number
  url: string
}

async function startServer(script: string, env: Record<string, string>, ready: RegExp): Promise<Server> {
  const { child, line } = await start([new URL(script, benchDir).pathname], { ...env, PORT: '0' }, ready)
  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
  if (url === undefined || child.pid === undefined) throw new Error(`${script} did not say where it listens`)
  return { child, pid: child.pid, url }
}

/** One autocannon run in its own process; the server's CPU time over it, per request. */
async function loadRound(
  server: Server,
  path: string,
  bodyFile: string,
  check: 'execute' | 'echo',
  seconds: number,
  options: { authorization?: string; scrapeMetrics?: boolean } = {},
): Promise<LoadResult & Omit<ServerFigures, 'requestsPerSecond'>> {
  const headers: Record<string, string> = options.authorization === undefined ? {} : { authorization: options.authorization }
  const scrapes: Array<Promise<unknown>> = []
  const scraper = options.scrapeMetrics
    ? setInterval(() => {
        scrapes.push(
          fetch(`${server.url}/metrics`, { headers }).then(async (response) => {
            await response.text()
            if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${String(response.status)}`)
          }),
        )
      }, 1_000)
    : undefined
  const before = processCpuTimes(server.pid)
  const { child, line } = await start(
    [new URL('./load.ts', benchDir).pathname, `${server.url}${path}`, bodyFile, check, String(cpuConnections), String(seconds)],
    options.authorization === undefined ? {} : { BENCH_AUTHORIZATION: options.authorization },
    /^\{/,
  )
  const after = processCpuTimes(server.pid)
  clearInterval(scraper)
  await Promise.all(scrapes)
  await stopChild(child)
  const result = JSON.parse(line) as LoadResult
  if (result.non2xx + result.errors + result.mismatched > 0) {
    process.stderr.write(
      `  ! ${server.url}${path}: ${String(result.non2xx)} non-2xx, ${String(result.errors)} errors, ${String(result.mismatched)} bodies that failed the check, of ${String(result.total)}\n`,
    )
  }
  const perRequest = (us: number) => (result.total > 0 ? us / result.total : Number.NaN)
  const systemUs = after.systemUs - before.systemUs
  return {
    ...result,
    cpuUsPerRequest: perRequest(after.userUs - before.userUs + systemUs),
    systemUsPerRequest: perRequest(systemUs),
  }
}

/** Runs every configuration: each server warmed up, then `rounds` rounds of echo and toolgate in turn. */
export async function cpuSection(options: { seconds?: number; rounds?: number; log?: (line: string) => void } = {}): Promise<CpuRow[]> {
  const seconds = options.seconds ?? Number(process.env.BENCH_CPU_SECONDS ?? (quick ? 2 : 5))
  const rounds = options.rounds ?? Number(process.env.BENCH_CPU_ROUNDS ?? 3)
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const warmupSeconds = Number(process.env.BENCH_CPU_WARMUP_SECONDS ?? (quick ? 2 : 10))
  const rows: CpuRow[] = []
  try {
    for (const configuration of configurations) {
      const bodyFile = join(tmpdir(), `toolgate-bench-cpu-${String(process.pid)}-${String(rows.length)}.json`)
      await writeFile(bodyFile, configuration.body)
      // The same bare route as section c, logging at the configuration's level (Fastify's two request lines at info).
      const echo = await startServer('echo.ts', { LOG_LEVEL: configuration.env.LOG_LEVEL ?? 'info' }, /bench echo listening at/)
      const { busyEchoUs } = configuration
      const gateway =
        busyEchoUs !== undefined
          ? await startServer('echo.ts', { ...configuration.env, BENCH_ECHO_BUSY_US: String(busyEchoUs) }, /bench echo listening at/)
          : configuration.floor === true
            ? await startServer('floor.ts', configuration.env, /bench floor listening at/)
            : await startServer('gateway.ts', configuration.env, /bench gateway listening at/)
      const [path, check] = busyEchoUs === undefined ? (['/execute', 'execute'] as const) : (['/echo', 'echo'] as const)
      try {
        const asked = { authorization: configuration.authorization, scrapeMetrics: configuration.scrapeMetrics }
        await loadRound(echo, '/echo', bodyFile, 'echo', warmupSeconds)
        await loadRound(gateway, path, bodyFile, check, warmupSeconds, asked)
        const echoRounds: Array<Awaited<ReturnType<typeof loadRound>>> = []
        const toolgateRounds: Array<Awaited<ReturnType<typeof loadRound>>> = []
        for (let round = 0; round < rounds; round++) {
          echoRounds.push(await loadRound(echo, '/echo', bodyFile, 'echo', seconds))
          toolgateRounds.push(await loadRound(gateway, path, bodyFile, check, seconds, asked))
        }
        const ratios = (key: 'cpuUsPerRequest' | 'requestsPerSecond') =>
          median(toolgateRounds.map((result, index) => result[key] / (echoRounds[index]?.[key] ?? Number.NaN)))
        const summary = (results: typeof echoRounds) => ({
          cpuUsPerRequest: round(median(results.map((result) => result.cpuUsPerRequest))),
          systemUsPerRequest: round(median(results.map((result) => result.systemUsPerRequest))),
          requestsPerSecond: round(median(results.map((result) => result.requestsPerSecond)), 0),
        })
        const row: CpuRow = {
          label: configuration.label,
          rounds,
          seconds,
          warmupSeconds,
          toolgate: summary(toolgateRounds),
          echo: summary(echoRounds),
          cpuRatio: round(ratios('cpuUsPerRequest'), 2),
          requestsPerSecondRatio: round(ratios('requestsPerSecond'), 2),
          failures: toolgateRounds.reduce((sum, result) => sum + result.non2xx + result.errors + result.mismatched, 0),
        }
        rows.push(row)
        log(
          `  ${row.label}: toolgate ${String(row.toolgate.cpuUsPerRequest)} µs CPU/request, ${String(row.toolgate.requestsPerSecond)} req/s; echo ${String(row.echo.cpuUsPerRequest)} µs, ${String(row.echo.requestsPerSecond)} req/s; ${String(row.cpuRatio)}x CPU, ${String(row.requestsPerSecondRatio)}x req/s${row.failures > 0 ? `; ! ${String(row.failures)} failed requests` : ''}`,
        )
      } finally {
        await stopChild(gateway.child)
        await stopChild(echo.child)
      }
    }
  } finally {
    for (const child of children) await stopChild(child)
  }
  return rows
}

/** The section's table, in latest.md's format. */
export function cpuTable(rows: CpuRow[]): string[] {
  const first = rows[0]
  if (first === undefined) return []
  return [
    `**g. Server CPU per request** (batch of three calls; autocannon, ${String(cpuConnections)} connections, ${String(first.seconds)} s a round after ${String(first.warmupSeconds)} s of warm-up per server; a bare Fastify echo of the same body loaded in alternate rounds, ${String(first.rounds)} rounds, medians; CPU time (user + system) of each server's own process, and the system part of it (the kernel's: the socket reads and writes, and waking the load generator); ratios are toolgate / echo of the same rounds):`,
    '',
    '| configuration | toolgate CPU µs/request | of which system | echo CPU µs/request | of which system | CPU ratio | toolgate req/s | echo req/s | req/s ratio | toolgate requests failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.label} | ${String(row.toolgate.cpuUsPerRequest)} | ${String(row.toolgate.systemUsPerRequest)} | ${String(row.echo.cpuUsPerRequest)} | ${String(row.echo.systemUsPerRequest)} | ${String(row.cpuRatio)}x | ${String(row.toolgate.requestsPerSecond)} | ${String(row.echo.requestsPerSecond)} | ${String(row.requestsPerSecondRatio)}x | ${String(row.failures)} |`,
    ),
    '',
  ]
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json')
  const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`)
  const stopAll = () => {
    for (const child of children) child.kill('SIGTERM')
  }
  process.on('SIGTERM', () => {
    stopAll()
    process.exit(143)
  })
  try {
    say(`g. server CPU per request (autocannon, ${String(cpuConnections)} connections; echo and toolgate in alternate rounds)`)
    const rows = await cpuSection({ log: say })
    if (json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`)
      return
    }
    const table = cpuTable(rows)
    say(`\n${table.join('\n')}`)
    const written = await writeResults(localDir, {
      'cpu.json': `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`,
      'cpu.md': `Measured ${new Date().toISOString().slice(0, 10)}, Node ${process.version}.\n\n${table.join('\n')}\n`,
    })
    say(`wrote ${written.join(', ')}`)
  } catch (error) {
    process.exitCode = 1
    say(`cpu benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    stopAll()
  }
}

if (import.meta.main) await main()
