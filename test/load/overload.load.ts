// The long load runs (`npm run test:load`, also in CI): toolgate as its own process on loopback,
// its tools calling a local upstream that takes 20 ms, driven past its capacity by an open loop.
// Figures are printed; the assertions are about correctness under overload, not about speed.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { describe, it, type TestContext } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { startServer, type RunningServer } from '../helpers/server-process.ts'
import { closedLoop, cpuSecondsOf, LoadTally, memoryOf, openSocketsOf, openLoop, sendBatch, type Batch } from './open-loop.ts'

const loadSeconds = Number(process.env.LOAD_SECONDS ?? 60)
const soakSeconds = Number(process.env.SOAK_SECONDS ?? 30)
const agentKey = 'agent-key-load-0123456789'
const tightKey = 'tight-key-load-0123456789'
const tightPerMinute = 300

/** The upstream of the `lookup` tool, as its own process (test/load/upstream.ts); its base URL. */
async function upstream(t: TestContext): Promise<string> {
  const child = spawn(process.execPath, [new URL('./upstream.ts', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => child.kill('SIGKILL'))
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
  return `http://127.0.0.1:${chunk.toString().trim()}`
}

async function gateway(t: TestContext, env: Record<string, string> = {}): Promise<RunningServer> {
  const directory = await mkdtemp(join(tmpdir(), 'toolgate-load-'))
  t.after(() => rm(directory, { recursive: true, force: true }))
  const tools = join(directory, 'tools.yaml')
  await writeFile(
    tools,
    `tools:\n  - name: lookup\n    description: Looks a thing up.\n    parameters: { type: object, properties: { q: { type: string } }, required: [q] }\n    http: { url: "${await upstream(t)}/lookup" }\n    timeoutMs: 5000\n`,
  )
  const keys = join(directory, 'keys.yaml')
  await writeFile(
    keys,
    `keys:\n  - { name: agent, key: ${agentKey} }\n  - { name: tight, key: ${tightKey}, rateLimitPerMinute: ${String(tightPerMinute)} }\n`,
  )
  return startServer(t, {
    LOG_LEVEL: 'warn',
    TOOLGATE_CONFIG: tools,
    TOOLGATE_API_KEYS_FILE: keys,
    TOOLGATE_CONCURRENCY: '16',
    TOOLGATE_MAX_QUEUED_CALLS: '48',
    ...env,
  })
}

/** Batches of two calls (the upstream lookup and the clock); one in ten from the rate-limited key. */
function batchOf(index: number, query = `item ${String(index)}`): Batch {
  const ids = [`call_${String(index)}_a`, `call_${String(index)}_b`]
  const body = JSON.stringify({
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: ids[0], type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q: query }) } },
      { id: ids[1], type: 'function', function: { name: 'get_time', arguments: '{"timezone":"UTC"}' } },
    ],
  })
  return { body, ids, authorization: `Bearer ${index % 10 === 9 ? tightKey : agentKey}` }
}

function summary(tally: LoadTally, seconds: number) {
  return {
    sent: tally.sent,
    goodputPerSecond: Math.round(tally.admitted / seconds),
    p50AdmittedMs: Math.round(tally.percentile(50)),
    p99AdmittedMs: Math.round(tally.percentile(99)),
    replies: Object.fromEntries([...tally.byStatus].sort()),
    networkErrors: Object.fromEntries(tally.networkErrors),
    unexpected: tally.unexpected.slice(0, 5),
  }
}

/** From the gateway's /metrics: calls answered, and the live heap (what V8 keeps, as opposed to what it reserved). */
async function scrape(base: string): Promise<{ calls: number; heapUsedMiB: number }> {
  const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${agentKey}` } })).text()
  let calls = 0
  for (const match of text.matchAll(/^toolgate_calls_total\{[^}]*\} (\d+)$/gm)) calls += Number(match[1])
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1])
  return { calls, heapUsedMiB: Math.round(heapUsed / 2 ** 20) }
}

interface PodMemory {
  /** The toolgate container's memory settings, as the example sets them. */
  env: Record<string, string>
  limitMiB: number
  /** The peak the example's comments state, in MiB. */
  statedPeakMiB: number
}

/** The memory settings of the toolgate sidecar in examples/kubernetes/agent-with-toolgate.yaml. */
async function podMemory(): Promise<PodMemory> {
  const path = new URL('../../examples/kubernetes/agent-with-toolgate.yaml', import.meta.url)
  const text = await readFile(path, 'utf8')
  type Container = { name: string; env: Array<{ name: string; value?: string }>; resources: { limits: { memory: string } } }
  const deployment = parseAllDocuments(text)
    .map((document) => document.toJS() as { kind: string; spec: { template: { spec: { initContainers: Container[] } } } })
    .find((document) => document.kind === 'Deployment')
  const toolgate = deployment?.spec.template.spec.initContainers.find((container) => container.name === 'toolgate')
  assert.ok(toolgate, 'the example has a toolgate sidecar')
  const env = Object.fromEntries(
    toolgate.env
      .filter((variable) => ['NODE_OPTIONS', 'TOOLGATE_MAX_RSS_BYTES'].includes(variable.name))
      .map((v) => [v.name, v.value ?? '']),
  )
  const limit = /^(\d+)Mi$/.exec(toolgate.resources.limits.memory)
  const stated = /peak RSS of (\d+) MiB/.exec(text)
  assert.ok(limit && stated, 'the limit in Mi, and the measured peak in a comment')
  return { env, limitMiB: Number(limit[1]), statedPeakMiB: Number(stated[1]) }
}

/** Capacity: what a closed loop of 24 clients gets through in 5 s, in batches a second, with its tally. */
async function measureCapacity(base: string): Promise<{ measured: LoadTally; capacity: number }> {
  const measured = new LoadTally()
  const seconds = 5
  await closedLoop({
    workers: 24,
    seconds,
    next: batchOf,
    send: (batch, index) => sendBatch(base, batch, `cap-${String(index)}`, measured),
  })
  return { measured, capacity: measured.admitted / seconds }
}

describe('under load', () => {
  it(`holds an open loop at twice its capacity for ${String(loadSeconds)} s, then a ${String(soakSeconds)} s soak without growing`, async (t) => {
    const server = await gateway(t)
    const pid = server.child.pid ?? 0

    // Capacity: what a closed loop of clients gets through, after a warm-up.
    const warm = new LoadTally()
    await closedLoop({
      workers: 24,
      seconds: 1,
      next: batchOf,
      send: (batch, index) => sendBatch(server.base, batch, `warm-${String(index)}`, warm),
    })
    const { measured, capacity } = await measureCapacity(server.base)
    assert.ok(capacity > 10, `capacity ${String(capacity)} batches/s`)

    // Overload: an open loop at twice that.
    const overload = new LoadTally()
    const samples: number[] = []
    let mostSockets = 0
    const sample = () => {
      samples.push(memoryOf(pid).rssMiB)
      mostSockets = Math.max(mostSockets, openSocketsOf(pid))
    }
    const timer = setInterval(sample, 500)
    const serverCpuBefore = cpuSecondsOf(pid)
    const clientCpuBefore = process.cpuUsage()
    const overloadStarted = performance.now()
    const { offeredRate } = await openLoop({
      rate: 2 * capacity,
      seconds: loadSeconds,
      next: batchOf,
      send: (batch, index) => sendBatch(server.base, batch, `load-${String(index)}`, overload),
    })
    const afterLoad = memoryOf(pid)
    const overloadSeconds = (performance.now() - overloadStarted) / 1000
    const serverCpuPercent = Math.round((100 * (cpuSecondsOf(pid) - serverCpuBefore)) / overloadSeconds)
    const clientCpu = process.cpuUsage(clientCpuBefore)
    const clientCpuPercent = Math.round((clientCpu.user + clientCpu.system) / 1e4 / overloadSeconds)

    // Soak: below capacity, where nothing should be refused but the rate-limited key; memory must not grow.
    const soak = new LoadTally()
    const soakSamples: number[] = []
    clearInterval(timer)
    const soakTimer = setInterval(() => soakSamples.push(memoryOf(pid).rssMiB), 500)
    await openLoop({
      rate: 0.7 * capacity,
      seconds: soakSeconds,
      next: batchOf,
      send: (batch, index) => sendBatch(server.base, batch, `soak-${String(index)}`, soak),
    })
    clearInterval(soakTimer)
    const { calls: counted, heapUsedMiB } = await scrape(server.base)
    const end = memoryOf(pid)

    const third = Math.max(1, Math.floor(soakSamples.length / 3))
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
    const soakFirstMiB = mean(soakSamples.slice(0, third))
    const soakLastMiB = mean(soakSamples.slice(-third))
    const report = {
      capacityBatchesPerSecond: Math.round(capacity),
      capacityP99Ms: Math.round(measured.percentile(99)),
      overload: {
        offeredPerSecond: Math.round(offeredRate),
        seconds: loadSeconds,
        serverCpuPercent,
        loadGeneratorCpuPercent: clientCpuPercent,
        mostOpenSockets: mostSockets,
        ...summary(overload, loadSeconds),
      },
      soak: { offeredPerSecond: Math.round(0.7 * capacity), seconds: soakSeconds, ...summary(soak, soakSeconds) },
      rssMiB: {
        peak: Math.round(end.peakMiB),
        duringOverloadMax: Math.round(Math.max(...samples)),
        afterOverload: Math.round(afterLoad.rssMiB),
        soakFirstThird: Math.round(soakFirstMiB),
        soakLastThird: Math.round(soakLastMiB),
        heapUsedAtEnd: heapUsedMiB,
      },
    }
    console.log(`LOAD REPORT ${JSON.stringify(report, null, 2)}`)

    for (const tally of [warm, measured, overload, soak]) {
      assert.deepEqual(tally.unexpected, [], 'only 200, 429 and 503 with Retry-After, and whole answers')
      assert.deepEqual(Object.fromEntries(tally.networkErrors), {}, 'no connection failed')
    }
    assert.ok((overload.byStatus.get('503 queue_full') ?? 0) > 0, 'twice the capacity fills the queue')
    assert.ok((overload.byStatus.get('429 rate_limited') ?? 0) > 0, 'the tight key meets its limit')
    assert.ok(overload.admitted > 0.5 * capacity * loadSeconds * 0.5, 'goodput holds under overload')
    const admittedCalls = [warm, measured, overload, soak].reduce((sum, tally) => sum + tally.admittedCalls, 0)
    assert.equal(counted, admittedCalls, 'every admitted call was answered once, and nothing else ran')
    assert.ok(end.peakMiB < 1024, `peak RSS ${String(Math.round(end.peakMiB))} MiB`)
    assert.ok(
      soakLastMiB < soakFirstMiB * 1.15 + 16,
      `RSS grew over the soak: ${String(Math.round(soakFirstMiB))} -> ${String(Math.round(soakLastMiB))} MiB`,
    )
    server.child.kill('SIGTERM')
    assert.deepEqual(await server.exit, [0, null])
  })

  it('on SIGTERM under load finishes every batch admitted, answers the rest 503 or refuses the connection, and exits 0 within the grace period', async (t) => {
    const graceMs = 10_000
    const server = await gateway(t, {
      // At debug a request is logged as it comes in ("incoming request") too, not only once answered.
      LOG_LEVEL: 'debug',
      TOOLGATE_SHUTDOWN_GRACE_MS: String(graceMs),
      TOOLGATE_CONCURRENCY: '256',
      TOOLGATE_MAX_QUEUED_CALLS: '256',
    })
    const tally = new LoadTally()
    let signalledAt = 0
    let index = 0
    // Each lookup takes a second upstream: at the signal, about a second's worth of batches is in flight.
    const sending = openLoop({
      rate: 100,
      seconds: 4,
      next: (at) => batchOf(at, 'slow'),
      send: (batch) => sendBatch(server.base, batch, `drain-${String(index++)}`, tally),
      onTick: () => {
        if (signalledAt === 0 && tally.sent >= 150) {
          signalledAt = performance.now()
          server.child.kill('SIGTERM')
        }
      },
    })
    const [code, signal] = await server.exit
    const drainMs = performance.now() - signalledAt
    await sending

    // The server's own log: every request it took in was answered.
    const lines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; reqId?: string; aborted?: boolean })
    const received = new Set(lines.filter((line) => line.msg === 'incoming request').map((line) => line.reqId))
    const completed = new Set(lines.filter((line) => line.msg === 'request completed' && line.aborted !== true).map((line) => line.reqId))
    const lost = [...received].filter((id) => !completed.has(id))
    const failedButReceived = tally.failedIds.filter((id) => received.has(id))
    console.log(
      `DRAIN REPORT ${JSON.stringify({ drainMs: Math.round(drainMs), exit: [code, signal], received: received.size, ...summary(tally, 4), failedAtConnect: tally.failedIds.length }, null, 2)}`,
    )
    assert.deepEqual([code, signal], [0, null])
    assert.ok(drainMs < graceMs, `drained in ${String(Math.round(drainMs))} ms`)
    assert.deepEqual(lost, [], 'every request the server took in was answered')
    assert.deepEqual(failedButReceived, [], 'no request the server took in failed at the client')
    assert.deepEqual(tally.unexpected, [])
    assert.ok(tally.admitted >= 140, 'the batches in flight at the signal were answered')
    assert.ok(drainMs >= 500, 'the drain waited for the batches in flight')
    for (const code of tally.networkErrors.keys())
      assert.ok(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(code), `network error ${code}`)
  })
  it(`with the Kubernetes example's memory settings, peaks below its limit at twice its capacity for ${String(loadSeconds)} s`, async (t) => {
    const pod = await podMemory()
    const server = await gateway(t, pod.env)
    const pid = server.child.pid ?? 0
    const { capacity } = await measureCapacity(server.base)
    const overload = new LoadTally()
    await openLoop({
      rate: 2 * capacity,
      seconds: loadSeconds,
      next: batchOf,
      send: (batch, index) => sendBatch(server.base, batch, `pod-${String(index)}`, overload),
    })
    const { peakMiB } = memoryOf(pid)
    const report = {
      settings: pod.env,
      limitMiB: pod.limitMiB,
      statedPeakMiB: pod.statedPeakMiB,
      peakRssMiB: Math.round(peakMiB),
      ...summary(overload, loadSeconds),
    }
    console.log(`POD MEMORY REPORT ${JSON.stringify(report, null, 2)}`)
    assert.deepEqual(overload.unexpected, [])
    assert.ok(peakMiB < pod.limitMiB, `peak RSS ${String(Math.round(peakMiB))} MiB under the ${String(pod.limitMiB)}Mi limit`)
    server.child.kill('SIGTERM')
    assert.deepEqual(await server.exit, [0, null])
  })
})
