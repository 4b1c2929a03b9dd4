import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it, type TestContext } from 'node:test'
import type { App } from '../../../src/app.ts'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, waitFor, type CallSpec } from '../../helpers/app.ts'

const fixture = new URL('../../fixtures/mcp-http-server.ts', import.meta.url).pathname

interface RunningServer {
  url: string
  port: number
  /** Kills the process (its sessions die with it) and waits for it to be gone. */
  stop(): Promise<void>
}

/** Starts the Streamable HTTP fixture on `port` (0: a free one) with `flags`. */
async function startServer(t: TestContext, flags: string[], port = 0): Promise<RunningServer> {
  const child = spawn(process.execPath, [fixture, '--port', String(port), ...flags], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  t.after(() => child.kill('SIGKILL'))
  let url = ''
  for await (const line of createInterface({ input: child.stdout })) {
    url = /listening on (\S+)/.exec(line)?.[1] ?? ''
    if (url) break
  }
  assert.ok(url, 'the fixture did not start')
  return {
    url,
    port: Number(new URL(url).port),
    stop: async () => {
      child.kill('SIGKILL')
      await exited
    },
  }
}

/** The same server started again, in a new process, on the same port: it knows none of the former sessions. */
async function restart(t: TestContext, server: RunningServer, flags: string[]): Promise<RunningServer> {
  await server.stop()
  return startServer(t, flags, server.port)
}

async function gatewayFor(t: TestContext, url: string): Promise<App> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-http-')), 'tools.yaml')
  await writeFile(file, `mcp:\n  - name: web\n    url: ${url}\n    timeoutMs: 5000\n`)
  return buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
}

async function run(app: App, calls: CallSpec[]) {
  const reply = (await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage(calls) })).json<ExecuteReply>()
  // The answer is what the model reads: an MCP tool's output is its whole result.
  return reply.results.map((result, index) => ({
    code: result.error?.code ?? 'ok',
    answer: result.error?.message ?? reply.messages[index]?.content ?? '',
    attempts: result.attempts,
  }))
}

async function readiness(app: App): Promise<unknown> {
  return (await app.inject({ method: 'GET', url: '/readyz' })).json<{ mcp: unknown }>().mcp
}

describe('Streamable HTTP MCP servers that go away', () => {
  it('opens a new session when the server restarted, and sends a call again only if its tool is idempotent or read-only', async (t) => {
    // Without an event stream, the gateway learns of the restart from the calls themselves.
    const flags = ['--no-sse']
    let server = await startServer(t, flags)
    const app = await gatewayFor(t, server.url)
    assert.deepEqual(await run(app, [['c1', 'web__bump']]), [{ code: 'ok', answer: '1', attempts: 1 }])

    server = await restart(t, server, flags)
    const [refused] = await run(app, [['c2', 'web__bump']])
    assert.ok(refused)
    assert.equal(refused.code, 'tool_error')
    assert.match(refused.answer, /^the MCP server web had lost its session \(it restarted\) and a new one is open; bump was not sent again/)
    // The new process counts from 1: the refused call did not run there; the new session serves.
    assert.deepEqual(await run(app, [['c3', 'web__bump']]), [{ code: 'ok', answer: '1', attempts: 1 }])

    await restart(t, server, flags)
    assert.deepEqual(
      await run(app, [
        ['c4', 'web__add', { a: 20, b: 22 }],
        ['c5', 'web__put', { value: 'x' }],
      ]),
      [
        { code: 'ok', answer: '42', attempts: 1 },
        { code: 'ok', answer: 'put x', attempts: 1 },
      ],
    )
    assert.deepEqual(await readiness(app), [{ name: 'web', connected: true }])
  })

  it('tells /readyz the server is down while it is, and serves again once it is back on its port', async (t) => {
    const server = await startServer(t, [])
    const app = await gatewayFor(t, server.url)
    assert.deepEqual(await readiness(app), [{ name: 'web', connected: true }])
    await server.stop()
    // No call is made: the broken event stream tells.
    await waitFor(() => app.toolSources.mcpServers[0]?.connected === false, 'the gateway to see the server gone')
    assert.deepEqual(await readiness(app), [{ name: 'web', connected: false }])
    assert.equal((await run(app, [['c1', 'web__add', { a: 1, b: 1 }]]))[0]?.code, 'unknown_tool')

    await startServer(t, [], server.port)
    await waitFor(() => app.toolSources.mcpServers[0]?.connected === true, 'the gateway to reconnect', 10_000)
    assert.deepEqual(await run(app, [['c2', 'web__add', { a: 20, b: 22 }]]), [{ code: 'ok', answer: '42', attempts: 1 }])
  })

  it('answers a retryable tool_error for a call that finds the server down, and counts it disconnected', async (t) => {
    const flags = ['--no-sse']
    const server = await startServer(t, flags)
    const app = await gatewayFor(t, server.url)
    await server.stop()
    assert.deepEqual(await readiness(app), [{ name: 'web', connected: true }])
    const [down] = await run(app, [['c1', 'web__add', { a: 1, b: 1 }]])
    assert.ok(down)
    assert.equal(down.code, 'tool_error')
    assert.match(down.answer, /^the MCP server web cannot be reached: /)
    assert.deepEqual(await readiness(app), [{ name: 'web', connected: false }])

    await startServer(t, flags, server.port)
    await waitFor(() => app.toolSources.mcpServers[0]?.connected === true, 'the gateway to reconnect', 10_000)
    assert.deepEqual(await run(app, [['c2', 'web__add', { a: 2, b: 2 }]]), [{ code: 'ok', answer: '4', attempts: 1 }])
  })

  it('serves a stateless server (no session) across its restarts', async (t) => {
    const flags = ['--stateless']
    const server = await startServer(t, flags)
    const app = await gatewayFor(t, server.url)
    assert.deepEqual(await run(app, [['c1', 'web__bump']]), [{ code: 'ok', answer: '1', attempts: 1 }])
    await restart(t, server, flags)
    await waitFor(() => app.toolSources.mcpServers[0]?.connected === true, 'the gateway to be connected', 10_000)
    assert.deepEqual(await run(app, [['c2', 'web__add', { a: 20, b: 22 }]]), [{ code: 'ok', answer: '42', attempts: 1 }])
  })
})
