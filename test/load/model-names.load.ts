// Names the model chooses must not size memory: tens of thousands of distinct made-up tool names,
// and names thousands of characters long, sent to toolgate as its own process. Figures are printed.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { startServer } from '../helpers/server-process.ts'
import { memoryOf } from './open-loop.ts'

const batches = Number(process.env.NAME_BATCHES ?? 800)
const warmUpBatches = batches / 4
const callsPerBatch = 128

async function post(base: string, batch: number): Promise<void> {
  const calls = Array.from({ length: callsPerBatch }, (_, index) => ({
    id: `c${String(index)}`,
    type: 'function',
    function: {
      // Every tenth call of a batch bears a 5,000-character name, the others a name never seen before.
      name: index % 10 === 0 ? `long_${String(batch)}_${'n'.repeat(5_000)}` : `made_up_${String(batch)}_${String(index)}`,
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
}

const seriesOf = (metrics: string) => metrics.split('\n').filter((line) => line.startsWith('toolgate_calls_total{'))

describe('made-up tool names', () => {
  it('take one metrics series, and a gateway with a 96 MiB heap serves 100,000 of them', async (t) => {
    // A small heap makes V8 collect instead of growing lazily: what is still held is what is kept.
    const server = await startServer(t, { LOG_LEVEL: 'warn', NODE_OPTIONS: '--max-old-space-size=96' })
    const pid = server.child.pid ?? 0
    for (let batch = 0; batch < warmUpBatches; batch++) await post(server.base, batch)
    const before = memoryOf(pid)
    for (let batch = warmUpBatches; batch < batches; batch++) await post(server.base, batch)
    const after = memoryOf(pid)
    const metrics = await (await fetch(`${server.base}/metrics`)).text()
    const series = seriesOf(metrics)
    const names = batches * callsPerBatch
    process.stdout.write(
      `${JSON.stringify({ names, series: series.length, metricsBytes: metrics.length, rssMiB: { afterWarmUp: Math.round(before.rssMiB), after: Math.round(after.rssMiB), peak: Math.round(after.peakMiB) } })}\n`,
    )
    assert.deepEqual(series, [`toolgate_calls_total{tool="(unknown)",outcome="unknown_tool"} ${String(names)}`])
    assert.ok(!metrics.includes('made_up_') && !metrics.includes('nnnnnnnnnn'), 'no made-up name in the metrics')
    // With a series per name, these names exhaust a heap of this size; held in one series, they do not.
    assert.equal(server.child.exitCode, null, 'the gateway is still running')
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200)
  })
})
