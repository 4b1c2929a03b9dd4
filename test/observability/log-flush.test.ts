import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { buildApp } from '../../src/app.ts'
import { assistantMessage, testConfig } from '../helpers/app.ts'
import { startServer } from '../helpers/server-process.ts'

const strayThrowServer = new URL('../fixtures/stray-throw-server.ts', import.meta.url).pathname
const logAndLeave = new URL('../fixtures/log-and-leave.ts', import.meta.url).pathname

type Line = Record<string, unknown>

/** The JSON lines of a process's output, in order. */
function jsonLines(output: string): Line[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line)
}

async function execute(base: string, id: string, calls: Parameters<typeof assistantMessage>[0]): Promise<number> {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify(assistantMessage(calls)),
  })
  await response.arrayBuffer()
  return response.status
}

// The gateway buffers its log lines (64 KiB at a time, or every 250 ms): none may be lost on the way out.
describe('buffered logging', () => {
  it('writes every line before a SIGTERM exit: each access line, each call line, "shutting down" and "closed"', async (t) => {
    const server = await startServer(t, { LOG_LEVEL: 'info' })
    const requests = ['flush-1', 'flush-2', 'flush-3', 'flush-4', 'flush-5']
    for (const id of requests) {
      const status = await execute(server.base, id, [
        [`${id}-a`, 'get_time', { timezone: 'UTC' }],
        [`${id}-b`, 'get_time', { timezone: 'Asia/Tokyo' }],
      ])
      assert.equal(status, 200)
    }
    // At once, before the periodic flush could write what the last requests left in the buffer.
    server.child.kill('SIGTERM')
    const [code] = await server.exit
    assert.equal(code, 0, server.output())

    const lines = jsonLines(server.output())
    for (const id of requests) {
      assert.ok(
        lines.some((line) => line.msg === 'request completed' && line.reqId === id && line.statusCode === 200),
        `the access line of ${id}`,
      )
      for (const callId of [`${id}-a`, `${id}-b`]) {
        assert.ok(
          lines.some((line) => line.msg === 'call answered' && line.callId === callId && line.reqId === id),
          `the line of call ${callId}`,
        )
      }
    }
    const messages = lines.map((line) => String(line.msg))
    assert.ok(
      messages.some((message) => message.startsWith('shutting down')),
      'shutting down',
    )
    assert.equal(messages.at(-1), 'closed', 'closed, last')
  })

  it('writes the line of a process exiting through the process guards, and those before it', async (t) => {
    const server = await startServer(t, { MAX_PER_MINUTE: '1' }, strayThrowServer)
    await execute(server.base, 'stray-1', [['call_1', 'stray', {}]])
    await execute(server.base, 'stray-2', [['call_2', 'stray', {}]]).catch(() => undefined)
    const [code] = await server.exit
    assert.equal(code, 70)
    const lines = jsonLines(server.output())
    const messages = lines.map((line) => String(line.msg))
    assert.equal(messages.filter((message) => message.startsWith('uncaught exception')).length, 2, server.output())
    assert.equal(messages.at(-1), 'more than 1 uncaught failures in a minute: exiting')
    for (const id of ['stray-1', 'stray-2']) {
      assert.ok(
        lines.some((line) => line.msg === 'request completed' && line.reqId === id),
        `the access line of ${id}`,
      )
    }
  })

  for (const how of ['exit', 'drain']) {
    it(`writes the lines it holds when the process ends without a flush (${how === 'exit' ? 'process.exit()' : 'the event loop runs dry'})`, () => {
      // 3 lines stay below a batch; 100 make several batches and leave some behind.
      for (const count of [3, 100]) {
        const run = spawnSync(process.execPath, [logAndLeave], {
          env: { PATH: process.env.PATH ?? '', HOW: how, LINES: String(count) },
          encoding: 'utf8',
          timeout: 15_000,
        })
        assert.equal(run.status, 0, run.stderr)
        assert.deepEqual(
          jsonLines(run.stdout).map((line) => line.index),
          Array.from({ length: count }, (_, index) => index),
          `${String(count)} lines, in order`,
        )
      }
    })
  }

  it('leaves no timer running once its app is closed', async (t) => {
    for (const level of ['warn', 'silent']) {
      const made = new Set<unknown>()
      const original = globalThis.setInterval
      const setInterval = t.mock.method(globalThis, 'setInterval', (...args: Parameters<typeof original>) => {
        const timer = original(...args)
        made.add(timer)
        return timer
      })
      const clearInterval = t.mock.method(globalThis, 'clearInterval')
      const app = await buildApp(testConfig({ LOG_LEVEL: level }))
      await app.ready()
      setInterval.mock.restore()
      if (level === 'warn') assert.ok(made.size > 0, 'a flushing timer (and the overload sampler)')
      await app.close()
      const cleared = new Set<unknown>(clearInterval.mock.calls.map((call) => call.arguments[0]))
      clearInterval.mock.restore()
      assert.deepEqual(
        [...made].filter((timer) => !cleared.has(timer)),
        [],
        `every interval cleared at ${level}`,
      )
    }
  })
})
