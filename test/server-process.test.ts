import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../src/batch/format-reply.ts'
import { assistantMessage, waitFor } from './helpers/app.ts'
import { serveOnLoopback, serverEntry, startServer } from './helpers/server-process.ts'

/** A geocoding stand-in that answers "no such place" after `delayMs`. */
async function slowUpstream(t: TestContext, delayMs: number): Promise<string> {
  const server = createServer((_request, response) => {
    const timer = setTimeout(() => response.end('{"generationtime_ms":0.1}'), delayMs)
    response.on('close', () => {
      clearTimeout(timer)
    })
  })
  return serveOnLoopback(t, server)
}

async function post(base: string, body: unknown): Promise<ExecuteReply> {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return (await response.json()) as ExecuteReply
}

const weatherCall = assistantMessage([
  ['call_time', 'get_time', {}],
  ['call_weather', 'get_weather', { location: 'Atlantis' }],
])

/** Starts a server whose weather upstream answers after `upstreamDelayMs`, sends SIGTERM mid-batch, and waits for the reply. */
async function sigtermDuringBatch(t: TestContext, upstreamDelayMs: number, env: Record<string, string> = {}) {
  const upstream = await slowUpstream(t, upstreamDelayMs)
  const server = await startServer(t, { OPEN_METEO_GEOCODING_URL: upstream, ...env })
  const reply = post(server.base, weatherCall)
  await waitFor(() => /"callId":"call_time"/.test(server.output()), 'the batch to start')
  server.child.kill('SIGTERM')
  return { server, body: await reply }
}

function outcomes(reply: ExecuteReply): string[] {
  return reply.results.map((result) => result.error?.code ?? 'ok')
}

describe('the server process', () => {
  it('refuses to start on a bad variable, naming it, without a stack trace', async () => {
    const child = spawn(process.execPath, [serverEntry], {
      env: { PATH: process.env.PATH ?? '', TOOLGATE_CONCURRENCY: 'many', PORT: '70000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 1)
    assert.match(stderr, /toolgate: Invalid configuration/)
    assert.match(stderr, /TOOLGATE_CONCURRENCY="many"/)
    assert.match(stderr, /PORT="70000"/)
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
  })

  it('refuses to start on a bad configuration file, naming its line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-config-'))
    const file = join(dir, 'tools.yaml')
    await writeFile(file, 'builtins:\n  disabld: [get_weather]\n')
    const child = spawn(process.execPath, [serverEntry], {
      env: { PATH: process.env.PATH ?? '', TOOLGATE_CONFIG: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 1)
    assert.match(stderr, /toolgate: .*tools\.yaml:2:\d+: builtins: Unrecognized key: "disabld"/)
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
  })

  it('on SIGTERM finishes the batch in flight, then exits 0', async (t) => {
    const { server, body } = await sigtermDuringBatch(t, 400)
    assert.deepEqual(outcomes(body), ['ok', 'tool_error'])
    assert.match(body.results[1]?.error?.message ?? '', /no place named "Atlantis"/)
    // The client's keep-alive connection must not hold the exit until its idle timeout (72 s).
    await waitFor(() => server.child.exitCode !== null, 'the process to exit once the batch is answered', 10_000)
    const [code] = await server.exit
    assert.equal(code, 0)
    assert.match(server.output(), /shutting down/)
  })

  it('at the end of the grace period answers the calls still running as cancelled, then exits 0', async (t) => {
    const { server, body } = await sigtermDuringBatch(t, 30_000, { TOOLGATE_SHUTDOWN_GRACE_MS: '300' })
    assert.deepEqual(outcomes(body), ['ok', 'cancelled'])
    assert.equal(body.status, 'partial')
    const [code] = await server.exit
    assert.equal(code, 0)
  })

  it('exits at once on a second signal', async (t) => {
    const upstream = await slowUpstream(t, 30_000)
    const server = await startServer(t, { OPEN_METEO_GEOCODING_URL: upstream })
    void post(server.base, weatherCall).catch(() => undefined)
    await waitFor(() => /"callId":"call_time"/.test(server.output()), 'the batch to start')
    server.child.kill('SIGTERM')
    await waitFor(() => /shutting down/.test(server.output()), 'the shutdown to begin')
    server.child.kill('SIGINT')
    const [code] = await server.exit
    assert.equal(code, 1)
    assert.match(server.output(), /second signal/)
  })
})
