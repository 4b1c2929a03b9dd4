// npm run bench: toolgate's latency and overhead, reproducible on loopback with local upstreams.
// Writes latest.md (the table), latest.json (raw data) and scaling.svg (wall time against the
// number of calls), sections as in the README, into bench/results/local/, which git ignores, and
// prints where. `npm run bench -- --record` writes them into bench/results/ instead: the committed
// figures the README's Performance section is copied from (a quick run, BENCH_QUICK=1, is not
// recorded). `npm run bench -- --only cpu` runs section g (server CPU per request, bench/cpu.ts) alone;
// `-- --only idempotency` section h (the cost of an Idempotency-Key, bench/idempotency.ts), which only runs alone;
// `-- --only mcp` section i (tools/call over MCP against POST /execute, bench/mcp.ts), which only runs alone too.
import { spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { ExecuteReply } from '../src/batch/format-reply.ts'
import { forecastRequest, geocodingRequest } from '../src/tools/builtin/get-weather.ts'
import { cpuTable, type CpuRow } from './cpu.ts'
import { clockBody, message, noopBody } from './lib/bodies.ts'
import { lineChartSvg } from './lib/chart.ts'
import { startChild } from './lib/processes.ts'
import { benchOutput, usage, writeResults, type BenchOutput } from './lib/output.ts'
import type { LoadResult } from './lib/load-result.ts'
import { median, p95, round } from './lib/stats.ts'

const benchDir = new URL('./', import.meta.url)
const node = process.execPath
const quick = process.env.BENCH_QUICK === '1'
let output: BenchOutput
try {
  output = benchOutput(process.argv.slice(2))
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${usage}\n`)
  process.exit(2)
}
if (output.record && quick) {
  process.stderr.write('bench: a quick run (BENCH_QUICK=1) is not recorded: run `npm run bench -- --record` without it\n')
  process.exit(2)
}
if (output.only !== undefined) {
  // One section alone (g: bench/cpu.ts, h: bench/idempotency.ts, i: bench/mcp.ts): it prints its table and writes its .md and .json into bench/results/local/.
  const alone = spawnSync(process.execPath, [new URL(`./${output.only}.ts`, import.meta.url).pathname], { stdio: 'inherit' })
  process.exit(alone.status ?? 1)
}
const loadSeconds = quick ? 3 : 10
const connections = 16
const children: ChildProcess[] = []

function log(line = ''): void {
  process.stdout.write(`${line}\n`)
}

/** Starts a child process; resolves once `ready` matches a line of its stdout (that line is returned). */
async function start(command: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<string> {
  return (await startChild(children, command, args, env, ready)).line
}

/** Starts a Fastify server script on a free port; its base URL, read from its "Server listening at" log line. */
async function startServer(script: string, env: Record<string, string>): Promise<string> {
  const line = await start(node, [new URL(script, benchDir).pathname], { LOG_LEVEL: 'info', ...env, PORT: '0' }, /Server listening at/)
  const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
  if (url === undefined) throw new Error(`${script} did not say where it listens`)
  return url
}

async function post(url: string, body: string): Promise<{ ms: number; reply: ExecuteReply }> {
  const started = performance.now()
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const reply = (await response.json()) as ExecuteReply
  const ms = performance.now() - started
  if (response.status !== 200 || reply.status !== 'complete')
    throw new Error(`${url}: HTTP ${String(response.status)} ${JSON.stringify(reply).slice(0, 300)}`)
  return { ms, reply }
}

/** Wall time at the client of `runs` batches (after `warmup` more), in one mode. */
async function wallTimes(gateway: string, body: string, mode: 'parallel' | 'sequential', runs: number, warmup = 2): Promise<number[]> {
  const times: number[] = []
  for (let run = 0; run < warmup + runs; run++) {
    const { ms } = await post(`${gateway}/execute?mode=${mode}`, body)
    if (run >= warmup) times.push(ms)
  }
  return times
}

interface ScalingRow {
  calls: number
  parallelMs: number
  parallelP95Ms: number
  sequentialMs: number
  idealMs: number
  overheadMs: number
  /** The batch's wall time as the gateway measured it (without the client's HTTP round trip). */
  gatewayWallMs: number
  /** The same N upstream requests sent at once straight from the client: the floor loopback HTTP sets. */
  directFanOutMs: number
}

/** Wall time of N requests to the upstream sent at once by the client itself, without toolgate. */
async function directFanOut(waitUrl: string, calls: number, ms: number): Promise<number> {
  const started = performance.now()
  await Promise.all(Array.from({ length: calls }, async () => (await fetch(`${waitUrl}/wait?ms=${String(ms)}`)).json()))
  return performance.now() - started
}

/**
 * `runs` parallel batches of `body` (after two more), each followed by the same `calls` requests
 * sent straight from the client: taken in turn, the two see the same moments of the machine.
 */
async function fanOutTimes(gateway: string, waitUrl: string, body: string, calls: number, ms: number, runs: number) {
  const times = { client: [] as number[], gatewayWall: [] as number[], direct: [] as number[] }
  for (let run = 0; run < runs + 2; run++) {
    const { ms: clientMs, reply } = await post(`${gateway}/execute?mode=parallel`, body)
    const directMs = await directFanOut(waitUrl, calls, ms)
    if (run < 2) continue
    times.client.push(clientMs)
    times.gatewayWall.push(reply.timing.wallMs)
    times.direct.push(directMs)
  }
  return times
}

/** Ten get_weather calls in one batch against the same twenty requests made by the client itself. */
interface WeatherRow {
  calls: number
  runs: number
  /** Median wall time of the batch at the client. */
  toolgateMs: number
  /** The batch's wall time as the gateway measured it. */
  gatewayWallMs: number
  /** Median wall time of the same requests straight from the client: each place geocoded, then its forecast, all places at once. */
  directMs: number
  /** toolgateMs - directMs. */
  overMs: number
}

/** The requests get_weather makes for `place` (geocoding, then the forecast), made by the client itself. */
async function directWeather(openMeteoUrl: string, place: string): Promise<void> {
  const { results } = (await (await fetch(geocodingRequest(openMeteoUrl, place, 1))).json()) as {
    results: Array<{ latitude: number; longitude: number }>
  }
  const found = results[0]
  if (found === undefined) throw new Error(`the Open-Meteo stand-in knows no ${place}`)
  await (await fetch(forecastRequest(openMeteoUrl, found, 'celsius'))).json()
}

interface SectionA {
  runs: number
  parallel: { medianMs: number; p95Ms: number }
  sequential: { medianMs: number; p95Ms: number }
  speedup: number
}

async function load(url: string, body: string, check: 'execute' | 'echo' | 'python'): Promise<LoadResult> {
  const bodyFile = join(tmpdir(), `toolgate-bench-body-${String(process.pid)}-${check}.json`)
  await writeFile(bodyFile, body)
  const line = await start(
    node,
    [new URL('./load.ts', benchDir).pathname, url, bodyFile, check, String(connections), String(loadSeconds)],
    {},
    /^\{/,
  )
  const result = JSON.parse(line) as LoadResult
  if (result.non2xx + result.errors + result.mismatched > 0) {
    log(
      `  ! ${url}: ${String(result.non2xx)} non-2xx, ${String(result.errors)} errors, ${String(result.mismatched)} bodies that failed the check`,
    )
  }
  return result
}

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: availableParallelism(),
  memoryGiB: round(totalmem() / 2 ** 30, 0),
  node: process.version,
  os: `${platform()} ${release()}`,
  date: new Date().toISOString(),
}
log(`toolgate benchmark on ${machine.cpu}, ${String(machine.cores)} cores, Node ${machine.node}${quick ? ' (quick run)' : ''}`)

try {
  const upstreams = JSON.parse(await start(node, [new URL('./upstreams.ts', benchDir).pathname], { LATENCY_MS: '100' }, /^\{/)) as {
    waitUrl: string
    openMeteoUrl: string
  }
  const gateway = await startServer('gateway.ts', {
    WAIT_URL: upstreams.waitUrl,
    OPEN_METEO_GEOCODING_URL: upstreams.openMeteoUrl,
    OPEN_METEO_FORECAST_URL: upstreams.openMeteoUrl,
  })

  // a. The reference query: time, date and weather (two upstream requests of 100 ms each).
  log('\na. reference query (get_time, get_date, get_weather; weather upstream 2 x 100 ms)')
  const reference = message([
    ['get_time', { timezone: 'Asia/Tokyo' }],
    ['get_date', { timezone: 'Asia/Tokyo' }],
    ['get_weather', { location: 'Tokyo' }],
  ])
  const referenceRuns = quick ? 5 : 20
  const referenceParallel = await wallTimes(gateway, reference, 'parallel', referenceRuns)
  const referenceSequential = await wallTimes(gateway, reference, 'sequential', referenceRuns)
  const sectionA: SectionA = {
    runs: referenceRuns,
    parallel: { medianMs: round(median(referenceParallel)), p95Ms: round(p95(referenceParallel)) },
    sequential: { medianMs: round(median(referenceSequential)), p95Ms: round(p95(referenceSequential)) },
    speedup: round(median(referenceSequential) / median(referenceParallel), 2),
  }
  log(
    `  parallel ${String(sectionA.parallel.medianMs)} ms (p95 ${String(sectionA.parallel.p95Ms)}), sequential ${String(sectionA.sequential.medianMs)} ms (p95 ${String(sectionA.sequential.p95Ms)}), speed-up ${String(sectionA.speedup)}x`,
  )

  // b. Scaling: N calls each waiting 50 ms on a local upstream.
  log('\nb. scaling (N calls x 50 ms on a local upstream, concurrency 64)')
  const latencyMs = 50
  const sectionB: ScalingRow[] = []
  for (const calls of [1, 3, 10, 50]) {
    const body = message(Array.from({ length: calls }, () => ['upstream_wait', { ms: latencyMs }] as [string, object]))
    const { client: parallel, gatewayWall, direct } = await fanOutTimes(gateway, upstreams.waitUrl, body, calls, latencyMs, quick ? 5 : 20)
    const sequential = await wallTimes(gateway, body, 'sequential', calls >= 10 ? (quick ? 1 : 3) : quick ? 3 : 10, 1)
    const idealMs = latencyMs * Math.ceil(calls / 64)
    const row: ScalingRow = {
      calls,
      parallelMs: round(median(parallel)),
      parallelP95Ms: round(p95(parallel)),
      sequentialMs: round(median(sequential)),
      idealMs,
      overheadMs: round(median(parallel) - idealMs),
      gatewayWallMs: round(median(gatewayWall)),
      directFanOutMs: round(median(direct)),
    }
    sectionB.push(row)
    log(
      `  N=${String(calls).padEnd(3)} parallel ${String(row.parallelMs)} ms (p95 ${String(row.parallelP95Ms)}), sequential ${String(row.sequentialMs)} ms, ideal ${String(idealMs)} ms, overhead ${String(row.overheadMs)} ms; batch as timed in the gateway ${String(row.gatewayWallMs)} ms; the same fetches straight from the client: ${String(row.directFanOutMs)} ms`,
    )
  }

  // b, continued. Ten get_weather calls (two requests of 100 ms each) on the default configuration,
  // against the client making the same twenty requests. Each round asks for places never asked
  // before ("Place N", which the stand-in makes up), since get_weather keeps the places it found.
  // Rounds alternate, toolgate then the client; 12 rounds of 20 requests stay within
  // get_weather's 600 a minute.
  const weatherCalls = 10
  const weatherRuns = quick ? 4 : 10
  const weatherTimes = { toolgate: [] as number[], gatewayWall: [] as number[], direct: [] as number[] }
  for (let run = 0; run < weatherRuns + 2; run++) {
    const places = Array.from({ length: weatherCalls }, (_, index) => `Place ${String(run * 2 * weatherCalls + index)}`)
    const { ms, reply } = await post(`${gateway}/execute`, message(places.map((location) => ['get_weather', { location }])))
    const others = places.map((_, index) => `Place ${String((run * 2 + 1) * weatherCalls + index)}`)
    const started = performance.now()
    await Promise.all(others.map((place) => directWeather(upstreams.openMeteoUrl, place)))
    const directMs = performance.now() - started
    if (run < 2) continue
    weatherTimes.toolgate.push(ms)
    weatherTimes.gatewayWall.push(reply.timing.wallMs)
    weatherTimes.direct.push(directMs)
  }
  const weather: WeatherRow = {
    calls: weatherCalls,
    runs: weatherRuns,
    toolgateMs: round(median(weatherTimes.toolgate)),
    gatewayWallMs: round(median(weatherTimes.gatewayWall)),
    directMs: round(median(weatherTimes.direct)),
    overMs: round(median(weatherTimes.toolgate) - median(weatherTimes.direct)),
  }
  log(
    `  ${String(weatherCalls)} x get_weather (2 x 100 ms each, places not cached): ${String(weather.toolgateMs)} ms (batch as timed in the gateway ${String(weather.gatewayWallMs)} ms); the same ${String(2 * weatherCalls)} requests straight from the client: ${String(weather.directMs)} ms; ${String(weather.overMs)} ms more`,
  )

  // c. Throughput against a bare Fastify route echoing the same body; d. the Python baseline.
  log(`\nc. throughput (autocannon, ${String(connections)} connections, ${String(loadSeconds)} s each, bodies checked)`)
  const echo = await startServer('echo.ts', {})
  const sectionC = {
    noop: { toolgate: await load(`${gateway}/execute`, noopBody, 'execute'), bareFastify: await load(`${echo}/echo`, noopBody, 'echo') },
    builtinClock: {
      toolgate: await load(`${gateway}/execute`, clockBody, 'execute'),
      bareFastify: await load(`${echo}/echo`, clockBody, 'echo'),
    },
  }
  const ratio = (a: LoadResult, b: LoadResult) => round(a.requestsPerSecond / b.requestsPerSecond, 2)
  for (const [label, pair] of Object.entries(sectionC)) {
    log(
      `  ${label.padEnd(13)} toolgate ${String(round(pair.toolgate.requestsPerSecond, 0))} req/s (p50 ${String(pair.toolgate.latencyP50Ms)} ms, p99 ${String(pair.toolgate.latencyP99Ms)} ms), bare Fastify ${String(round(pair.bareFastify.requestsPerSecond, 0))} req/s (p50 ${String(pair.bareFastify.latencyP50Ms)}, p99 ${String(pair.bareFastify.latencyP99Ms)}): ${String(ratio(pair.toolgate, pair.bareFastify))}x`,
    )
  }

  log('\nd. the reference sketch as a baseline (Python ThreadPoolExecutor(max_workers=4), same time/date batch)')
  const pythonPort =
    /listening on (\d+)/.exec(
      await start('python3', [new URL('baseline_server.py', benchDir).pathname, '0'], {}, /listening on \d+/),
    )?.[1] ?? ''
  const python = await load(`http://127.0.0.1:${pythonPort}/execute`, clockBody, 'python')
  const sectionD = { python, toolgate: sectionC.builtinClock.toolgate, ratio: ratio(sectionC.builtinClock.toolgate, python) }
  log(
    `  python ${String(round(python.requestsPerSecond, 0))} req/s (p50 ${String(python.latencyP50Ms)} ms, p99 ${String(python.latencyP99Ms)} ms); toolgate ${String(sectionD.ratio)}x`,
  )

  // e. CPU-bound tools: 4 calls burning 20 ms of CPU each.
  log('\ne. CPU-bound tools (4 calls x 20 ms of CPU)')
  const burnRuns = quick ? 3 : 10
  const sectionE: Record<string, { parallelMs: number; sequentialMs: number }> = {}
  for (const tool of ['burn_main', 'burn_worker']) {
    const body = message(Array.from({ length: 4 }, () => [tool, { ms: 20 }] as [string, object]))
    sectionE[tool] = {
      parallelMs: round(median(await wallTimes(gateway, body, 'parallel', burnRuns))),
      sequentialMs: round(median(await wallTimes(gateway, body, 'sequential', burnRuns))),
    }
    log(`  ${tool.padEnd(12)} parallel ${String(sectionE[tool].parallelMs)} ms, sequential ${String(sectionE[tool].sequentialMs)} ms`)
  }

  // f. In-process cost per batch of three instant calls, against the peers (a separate package).
  log('\nf. in-process cost of a batch of three instant calls')
  const peers = new URL('peers/', benchDir)
  if (!existsSync(new URL('node_modules/', peers))) {
    log('  installing the peers (npm ci in bench/peers) ...')
    const install = spawnSync('npm', ['ci', '--no-fund', '--no-audit', '--silent'], { cwd: peers, stdio: 'inherit' })
    if (install.status !== 0) throw new Error('npm ci in bench/peers failed')
  }
  const inProcess = JSON.parse(
    await start(node, [new URL('in-process.ts', peers).pathname], quick ? { BATCHES: '2000', ROUNDS: '5' } : {}, /^\{/),
  ) as Record<'toolgate' | 'plainZodPQueue' | 'langgraphToolNode' | 'aiSdkGenerateText', number>
  const sectionF = Object.fromEntries(Object.entries(inProcess).map(([name, us]) => [name, round(us, 1)]))
  for (const [name, us] of Object.entries(sectionF)) log(`  ${name.padEnd(18)} ${String(us)} us per batch`)

  // g. Server CPU per request against the echo: four configurations, a calibration and a floor
  // (bench/cpu.ts, which says its own heading; `--only cpu` runs it alone).
  log('')
  const sectionG = JSON.parse(await start(node, [new URL('cpu.ts', benchDir).pathname, '--json'], {}, /^\[/)) as CpuRow[]

  const results = {
    machine,
    a: sectionA,
    b: sectionB,
    weather,
    c: sectionC,
    d: sectionD,
    e: sectionE,
    f: sectionF,
    g: sectionG,
    settings: { connections, loadSeconds, quick },
  }
  const written = await writeResults(output.dir, {
    'latest.json': `${JSON.stringify(results, null, 2)}\n`,
    'latest.md': table(results),
    'scaling.svg': lineChartSvg(
      `toolgate: N calls x ${String(latencyMs)} ms upstream (${machine.node}, ${String(machine.cores)} cores)`,
      'calls in the batch (N)',
      'wall time (ms)',
      [
        { label: 'sequential', color: '#c0392b', points: sectionB.map((row) => [row.calls, row.sequentialMs]) },
        { label: 'parallel (median)', color: '#2471a3', points: sectionB.map((row) => [row.calls, row.parallelMs]) },
        { label: 'ideal parallel', color: '#7f8c8d', dashed: true, points: sectionB.map((row) => [row.calls, row.idealMs]) },
      ],
    ),
  })
  log(`\nwrote ${written.join(', ')}`)
  log(
    output.record
      ? "(the committed figures: copy latest.md into the README's Performance section)"
      : '(untracked; `npm run bench -- --record` writes the committed figures in bench/results/)',
  )
} catch (error) {
  process.exitCode = 1
  log(`benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
} finally {
  for (const child of children) child.kill('SIGTERM')
  await delay(1_000)
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  // Pipes and keep-alive sockets to the children would otherwise hold this process open.
  process.exit()
}

function table(r: {
  machine: typeof machine
  a: SectionA
  b: ScalingRow[]
  weather: WeatherRow
  c: Record<'noop' | 'builtinClock', { toolgate: LoadResult; bareFastify: LoadResult }>
  d: { python: LoadResult; toolgate: LoadResult; ratio: number }
  e: Record<string, { parallelMs: number; sequentialMs: number }>
  f: Record<string, number>
  g: CpuRow[]
}): string {
  const rps = (result: LoadResult) => String(round(result.requestsPerSecond, 0))
  const lines = [
    `Measured ${r.machine.date.slice(0, 10)} on ${r.machine.cpu}, ${String(r.machine.cores)} cores, ${String(r.machine.memoryGiB)} GiB, Node ${r.machine.node}, ${r.machine.os}. Everything on loopback; load generator in its own process.`,
    '',
    '**a. Reference query** (get_time + get_date + get_weather; the weather upstream answers two requests of 100 ms), wall time at the client:',
    '',
    '| mode | median ms | p95 ms |',
    '| --- | ---: | ---: |',
    `| parallel | ${String(r.a.parallel.medianMs)} | ${String(r.a.parallel.p95Ms)} |`,
    `| sequential | ${String(r.a.sequential.medianMs)} | ${String(r.a.sequential.p95Ms)} |`,
    `| speed-up | ${String(r.a.speedup)}x | |`,
    '',
    '**b. Scaling**: N calls each waiting 50 ms on a local upstream (median wall time at the client, ms):',
    '',
    '| N | parallel | p95 | sequential | ideal parallel | overhead beyond ideal | batch inside the gateway | same N fetches straight from the client |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.b.map(
      (row) =>
        `| ${String(row.calls)} | ${String(row.parallelMs)} | ${String(row.parallelP95Ms)} | ${String(row.sequentialMs)} | ${String(row.idealMs)} | ${String(row.overheadMs)} | ${String(row.gatewayWallMs)} | ${String(row.directFanOutMs)} |`,
    ),
    '',
    `${String(r.weather.calls)} get_weather calls in one batch (each a geocoding and a forecast request of 100 ms; places never asked before), median of ${String(r.weather.runs)} rounds: ${String(r.weather.toolgateMs)} ms at the client (${String(r.weather.gatewayWallMs)} ms inside the gateway), against ${String(r.weather.directMs)} ms for the same ${String(2 * r.weather.calls)} requests made by the client itself: **${String(r.weather.overMs)} ms more**.`,
    '',
    `**c. Throughput** (batch of three calls, autocannon, ${String(connections)} connections, ${String(loadSeconds)} s, every body checked, coordinated omission corrected):`,
    '',
    '| batch | toolgate req/s | p50 / p99 ms | bare Fastify echo req/s | p50 / p99 ms | ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...(['noop', 'builtinClock'] as const).map((key) => {
      const { toolgate, bareFastify } = r.c[key]
      return `| ${key === 'noop' ? 'three no-op tools' : 'get_time, get_date, get_time'} | ${rps(toolgate)} | ${String(toolgate.latencyP50Ms)} / ${String(toolgate.latencyP99Ms)} | ${rps(bareFastify)} | ${String(bareFastify.latencyP50Ms)} / ${String(bareFastify.latencyP99Ms)} | ${String(round(toolgate.requestsPerSecond / bareFastify.requestsPerSecond, 2))}x |`
    }),
    '',
    `**d. The reference sketch's design** (Python ThreadPoolExecutor(max_workers=4), same time/date batch): ${rps(r.d.python)} req/s (p50 ${String(r.d.python.latencyP50Ms)} ms, p99 ${String(r.d.python.latencyP99Ms)} ms); toolgate ${rps(r.d.toolgate)} req/s, **${String(r.d.ratio)}x**.`,
    '',
    '**e. CPU-bound tools**: 4 calls burning 20 ms of CPU each (median wall ms):',
    '',
    '| tool | parallel | sequential |',
    '| --- | ---: | ---: |',
    ...Object.entries(r.e).map(
      ([tool, row]) =>
        `| ${tool === 'burn_main' ? 'on the event loop' : 'on the worker pool'} | ${String(row.parallelMs)} | ${String(row.sequentialMs)} |`,
    ),
    '',
    '**f. In-process cost** of one batch of three instant calls (µs, median of rounds):',
    '',
    '| executor | µs per batch | relative to toolgate |',
    '| --- | ---: | ---: |',
    ...Object.entries(r.f).map(([name, us]) => `| ${name} | ${String(us)} | ${String(round(us / (r.f.toolgate ?? Number.NaN), 2))}x |`),
    '',
    ...cpuTable(r.g),
  ]
  return `${lines.join('\n')}\n`
}
