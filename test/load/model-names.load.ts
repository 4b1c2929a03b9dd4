// Names the model chooses must not size memory: tens of thousands of distinct made-up tool names,
// names thousands of characters long, ids as long, and as many URLs no route takes, sent to
// toolgate as its own process. The metrics series and the resident memory are measured after a
// warm-up and at the end: neither may grow. Figures are printed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startServer } from '../helpers/server-process.ts'
import { memoryOf } from './open-loop.ts'

const batches = Number(process.env.NAME_BATCHES ?? 800)
const warmUpBatches = batches / 4
const callsPerBatch = 128
/**
 * How much the resident memory may grow from the end of the warm-up to the end, in MiB. Held in
 * memory, the names sent after the warm-up would take over 40 MiB (7,680 of them are 5,000
 * characters long), ids and series not counted; not held, the growth measured is a few MiB.
 */
const maxRssGrowthMiB = 16

async function post(base: string, batch: number): Promise<void> {
  const calls = Array.from({ length: callsPerBatch }, (_, index) => ({
    // Every call has an id never seen before, every tenth one 1,000 characters long.
    id: index % 10 === 5 ? `id_${String(batch)}_${String(index)}_${'i'.repeat(1_000)}` : `c${String(batch)}_${String(index)}`,
    type: 'function',
    function: {
      // Every call bears a name never seen before, every tenth one 5,000 characters long.
      name: `${index % 10 === 0 ? 'long' : 'made_up'}_${String(batch)}_${String(index)}${index % 10 === 0 ? 'n'.repeat(5_000) : ''}`,
      arguments: '{}',
    },
  }))
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role: 'assistant', tool_calls: calls }),
  })
  assert.equal(response.status, 200)
  await response.arrayBuffer()
  // And a URL no route takes, never the same twice.
  const lost = await fetch(`${base}/made-up/${String(batch)}/${'u'.repeat(2_000)}?tool=made_up_${String(batch)}`)
  assert.equal(lost.status, 404)
  await lost.arrayBuffer()
}

/** toolgate's own series in /metrics (the process metrics left out), and the heap in use, in MiB. */
async function scrape(base: string): Promise<{ text: string; series: string[]; heapUsedMiB: number }> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const series = text.split('\n').filter((line) => line.startsWith('toolgate_'))
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1])
  return { text, series, heapUsedMiB: Math.round(heapUsed / 2 ** 20) }
}

const seriesNames = (series: string[]) => series.map((line) => line.replace(/ \S+$/, ''))

describe('made-up tool names', () => {
  it('take one metrics series, and neither the series nor the resident memory grow with 100,000 of them', async (t) => {
    // A small heap makes V8 collect instead of growing lazily: what is still held is what is kept.
    // A small young generation too: V8 would otherwise reserve 128 MiB for it and touch its pages
    // one by one over the first hundreds of batches, resident memory that says nothing of what is kept.
    const server = await startServer(t, { LOG_LEVEL: 'warn', NODE_OPTIONS: '--max-old-space-size=96 --max-semi-space-size=4' })
    const pid = server.child.pid ?? 0
    const sendBatches = async (from: number, to: number) => {
      try {
        for (let batch = from; batch < to; batch++) await post(server.base, batch)
      } catch (error) {
        // Names held in memory exhaust this heap: the gateway dies, and says so on its way out.
        const state = server.child.exitCode === null ? 'still runs' : `exited (${String(server.child.exitCode)})`
        throw new Error(`a batch failed and the gateway ${state}: ${String(error)}\n${server.output().slice(-1_500)}`, { cause: error })
      }
    }
    await sendBatches(0, warmUpBatches)
    // Scraped once before measuring: the first scrape adds the series of /metrics itself.
    await scrape(server.base)
    const warm = await scrape(server.base)
    const before = memoryOf(pid)
    await sendBatches(warmUpBatches, batches)
    const end = await scrape(server.base)
    const after = memoryOf(pid)
    const names = batches * callsPerBatch
    const figures = {
      names,
      longNames: batches * (callsPerBatch / 10),
      unknownUrls: batches,
      series: { afterWarmUp: warm.series.length, atEnd: end.series.length },
      callSeries: end.series.filter((line) => line.startsWith('toolgate_calls_total{')).length,
      metricsBytes: end.text.length,
      rssMiB: {
        afterWarmUp: Math.round(before.rssMiB),
        atEnd: Math.round(after.rssMiB),
        growth: Math.round(after.rssMiB - before.rssMiB),
        peak: Math.round(after.peakMiB),
      },
      heapUsedMiB: { afterWarmUp: warm.heapUsedMiB, atEnd: end.heapUsedMiB },
    }
    process.stdout.write(`MODEL NAMES REPORT ${JSON.stringify(figures)}\n`)

    const calls = end.series.filter((line) => line.startsWith('toolgate_calls_total{'))
    assert.deepEqual(calls, [`toolgate_calls_total{tool="(unknown)",outcome="unknown_tool"} ${String(names)}`])
    assert.deepEqual(seriesNames(end.series), seriesNames(warm.series), 'no series came after the warm-up')
    for (const sent of ['made_up_', 'nnnnnnnnnn', 'iiiiiiiiii', 'uuuuuuuuuu', 'made-up'])
      assert.ok(!end.text.includes(sent), `nothing sent (${sent}) is in the metrics`)
    assert.ok(
      after.rssMiB - before.rssMiB < maxRssGrowthMiB,
      `resident memory grew by ${String(Math.round(after.rssMiB - before.rssMiB))} MiB (${String(Math.round(before.rssMiB))} -> ${String(Math.round(after.rssMiB))})`,
    )
    assert.equal(server.child.exitCode, null, 'the gateway is still running')
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200)
  })
})
