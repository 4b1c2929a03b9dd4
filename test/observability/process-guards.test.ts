import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assistantMessage } from '../helpers/app.ts'
import { startServer } from '../helpers/server-process.ts'

const fixture = new URL('../fixtures/stray-throw-server.ts', import.meta.url).pathname

async function execute(base: string, calls: Parameters<typeof assistantMessage>[0]) {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(assistantMessage(calls)),
  })
  return (await response.json()) as { status: string; results: Array<{ id: string; ok: boolean }> }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100))

describe('process guards', () => {
  it('serves on when a tool throws or rejects from a callback of its own, logging and counting it', async (t) => {
    const server = await startServer(t, {}, fixture)
    const first = await execute(server.base, [
      ['call_1', 'stray', {}],
      ['call_2', 'get_time', { timezone: 'UTC' }],
    ])
    assert.equal(first.status, 'complete')
    await settle()
    const second = await execute(server.base, [['call_3', 'stray', { rejection: true }]])
    assert.equal(second.status, 'complete')
    await settle()
    assert.equal(server.child.exitCode, null, 'the process is still up')
    const after = await execute(server.base, [['call_4', 'get_time', { timezone: 'UTC' }]])
    assert.equal(after.status, 'complete')
    assert.match(
      server.output(),
      /uncaught exception \(a tool threw outside its call\); serving on.*stray exception|stray exception.*uncaught exception/,
    )
    assert.match(server.output(), /unhandled rejection/)
    const metrics = await (await fetch(`${server.base}/metrics`)).text()
    assert.match(metrics, /^toolgate_uncaught_failures_total 2$/m)
  })

  it('exits once such failures come faster than the limit: something is broken for good', async (t) => {
    const server = await startServer(t, { MAX_PER_MINUTE: '2' }, fixture)
    for (let index = 0; index < 3; index++) {
      await execute(server.base, [[`call_${String(index)}`, 'stray', {}]]).catch(() => undefined)
      await settle()
    }
    const [code] = await server.exit
    assert.equal(code, 70)
  })
})
