import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, it, type TestContext } from 'node:test'
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { defineTool, type Tool } from '../../src/tools/tool.ts'
import { buildTestApp, listen, waitFor } from '../helpers/app.ts'
import { connectHttp, eras, errorOf } from '../helpers/mcp-clients.ts'
import { sleepTool } from '../helpers/tools.ts'

const clock = { authorization: 'Bearer clock-key-0123456789abcdef' }
const ops = { authorization: 'Bearer ops-key-0123456789abcdef' }
const fixtures = new URL('../fixtures/', import.meta.url).pathname

/** A local HTTP service for an HTTP tool: answers what it was sent, with the method it saw. */
async function echoService(t: TestContext): Promise<string> {
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ method: request.method, received: JSON.parse(body) as unknown }))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/echo`
}

async function configFile(t: TestContext): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-server-')), 'tools.yaml')
  await writeFile(
    file,
    `tools:
  - name: echo_http
    description: Echoes its arguments.
    parameters: { type: object, properties: { text: { type: string } }, required: [text] }
    http: { url: ${await echoService(t)} }
mcp:
  - name: fix
    command: ${process.execPath}
    args: [${fixtures}mcp-server.ts]
  - name: media
    command: ${process.execPath}
    args: [${fixtures}mcp-content-server.ts]
`,
  )
  return file
}

/** Records the calls it runs and how each ended: the tests read whether a cancellation reached it. */
function recordingTool() {
  const runs: Array<{ started: number; ended?: number; aborted?: boolean }> = []
  const tool = defineTool({
    name: 'record',
    description: 'Waits `ms`, recording when it started and ended and whether it was aborted.',
    inputSchema: z.object({ ms: z.int().min(0).max(30_000) }),
    async execute({ ms }, { signal }) {
      const run: { started: number; ended?: number; aborted?: boolean } = { started: performance.now() }
      runs.push(run)
      try {
        await delay(ms, undefined, { signal })
        return { waited: ms }
      } finally {
        run.ended = performance.now()
        run.aborted = signal.aborted
      }
    },
  })
  return { tool, runs }
}

async function gateway(t: TestContext, tools: Tool[], env: Record<string, string> = {}): Promise<string> {
  return listen(await buildTestApp(t, { tools, env: { TOOLGATE_API_KEYS_FILE: await keysFile(), ...env } }))
}

for (const era of eras) {
  describe(`POST /mcp, protocol revision ${era}`, () => {
    it('lists the tools the key may call, with their schemas and side-effect hints', async (t) => {
      const url = await listen(await buildTestApp(t, { env: { TOOLGATE_API_KEYS_FILE: await keysFile() } }))
      const all = await connectHttp(t, url, era, ops)
      const tools = await all.listTools()
      assert.deepEqual(
        tools.map((tool) => tool.name),
        ['get_time', 'get_date', 'get_weather'],
      )
      const getTime = tools[0]
      assert.equal((getTime?.inputSchema as { type: string }).type, 'object')
      assert.equal(getTime?.annotations?.readOnlyHint, true)
      const limited = await connectHttp(t, url, era, clock)
      assert.deepEqual(
        (await limited.listTools()).map((tool) => tool.name),
        ['get_time'],
      )
      const forbidden = errorOf(await limited.callTool('get_date', { timezone: 'UTC' }))
      assert.equal(forbidden?.code, 'forbidden_tool')
    })

    it('calls each kind of tool: built-in, HTTP, an upstream MCP server’s, with its content blocks', async (t) => {
      const url = await listen(await buildTestApp(t, { env: { TOOLGATE_CONFIG: await configFile(t) } }))
      const client = await connectHttp(t, url, era)
      const time = await client.callTool('get_time', { timezone: 'Asia/Tokyo' })
      assert.equal(time.isError, undefined)
      assert.equal(time.structuredContent?.timezone, 'Asia/Tokyo')
      assert.deepEqual(JSON.parse(time.content[0]?.text ?? ''), time.structuredContent)

      const http = await client.callTool('echo_http', { text: 'hello' })
      assert.deepEqual(http.structuredContent, { method: 'POST', received: { text: 'hello' } })

      const added = await client.callTool('fix__add', { a: 2, b: 3 })
      assert.deepEqual(added.content, [{ type: 'text', text: '5' }])

      const image = await client.callTool('media__image', {})
      assert.equal(image.content[0]?.type, 'image')
      assert.equal(image.content[0].mimeType, 'image/png')
      assert.equal(image.content[1]?.text, 'The image above is the MCP logo.')
      const meta = { 'io.toolgate/idempotency-key': `image-${era}` }
      const keyed = await client.callTool('media__image', {}, { meta })
      assert.deepEqual(keyed.content, image.content, 'a keyed call keeps its content blocks')
      assert.deepEqual((await client.callTool('media__image', {}, { meta })).content, image.content, 'and so does its replay')

      const failed = errorOf(await client.callTool('fix__fail', {}))
      assert.deepEqual(failed, { code: 'tool_error', message: 'the fixture failed on purpose' })
    })

    it('answers bad arguments, an unknown tool and a timeout as isError results with toolgate’s codes', async (t) => {
      const url = await gateway(t, [sleepTool, { ...sleepTool, name: 'short', timeoutMs: 100 }])
      const client = await connectHttp(t, url, era, ops)
      const invalid = errorOf(await client.callTool('sleep', { ms: 'long' }))
      assert.equal(invalid?.code, 'invalid_arguments')
      assert.match(invalid.message, /arguments\.ms/)
      const unknown = errorOf(await client.callTool('slep', { ms: 1 }))
      assert.equal(unknown?.code, 'unknown_tool')
      assert.match(unknown.message, /Did you mean "sleep"\?/)
      const timedOut = errorOf(await client.callTool('short', { ms: 5_000 }))
      assert.equal(timedOut?.code, 'timeout')
    })

    it('never runs a call that needs a human approval, which MCP cannot carry', async (t) => {
      let runs = 0
      const pay: Tool = defineTool({
        name: 'pay',
        description: 'Pays.',
        inputSchema: z.object({}),
        approval: 'required',
        execute: () => ({ paid: ++runs }),
      })
      const url = await gateway(t, [pay, sleepTool], { TOOLGATE_APPROVAL_SECRETS: 'a-secret-of-at-least-32-characters-long' })
      const client = await connectHttp(t, url, era, ops)
      const refused = errorOf(await client.callTool('pay', {}))
      assert.equal(refused?.code, 'approval_unavailable')
      const keyed = errorOf(await client.callTool('pay', {}, { meta: { 'io.toolgate/idempotency-key': `pay-${era}` } }))
      assert.equal(keyed?.code, 'approval_unavailable')
      assert.equal(runs, 0)
      const careful = await connectHttp(t, url, era, { authorization: 'Bearer careful-key-0123456789abcdef' })
      assert.equal(errorOf(await careful.callTool('sleep', { ms: 1 }))?.code, 'approval_unavailable', "the key's approve list holds")
      assert.equal((await client.callTool('sleep', { ms: 1 })).isError, undefined)
    })

    it('cancels the call when the client cancels it', async (t) => {
      const { tool, runs } = recordingTool()
      const url = await gateway(t, [tool])
      const client = await connectHttp(t, url, era, ops)
      const cancel = new AbortController()
      const call = client.callTool('record', { ms: 20_000 }, { signal: cancel.signal })
      await waitFor(() => runs.length === 1, 'the call to start')
      cancel.abort()
      await assert.rejects(call)
      await waitFor(() => runs[0]?.ended !== undefined, 'the tool to see the cancellation')
      assert.equal(runs[0]?.aborted, true)
      assert.ok((runs[0].ended ?? Infinity) - runs[0].started < 10_000, 'the tool was aborted, not left to finish')
    })

    it('runs a burst of concurrent calls in parallel, under the same bounds', async (t) => {
      const { tool, runs } = recordingTool()
      const url = await gateway(t, [tool])
      const client = await connectHttp(t, url, era, ops)
      const results = await Promise.all(Array.from({ length: 8 }, () => client.callTool('record', { ms: 400 })))
      assert.ok(results.every((result) => result.isError === undefined))
      const lastStart = Math.max(...runs.map((run) => run.started))
      const firstEnd = Math.min(...runs.map((run) => run.ended ?? Infinity))
      assert.ok(lastStart < firstEnd, 'every call had started before the first one ended')

      const bounded = await gateway(t, [tool], { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '2' })
      const small = await connectHttp(t, bounded, era, ops)
      const burst = await Promise.all(Array.from({ length: 6 }, () => small.callTool('record', { ms: 200 })))
      const refused = burst.map(errorOf).filter((error) => error?.code === 'queue_full')
      assert.ok(refused.length >= 1, `some calls are refused past TOOLGATE_MAX_QUEUED_CALLS, got ${JSON.stringify(burst.map(errorOf))}`)
    })

    it('tells a client that asked for progress that a long call still runs', async (t) => {
      const url = await gateway(t, [sleepTool])
      const client = await connectHttp(t, url, era, ops)
      const progress: number[] = []
      const result = await client.callTool('sleep', { ms: 1_300 }, { onprogress: (update) => progress.push(update.progress) })
      assert.equal(result.isError, undefined)
      assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`)
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
      )
    })

    it('runs a call with an idempotency key in _meta at most once across retries', async (t) => {
      let runs = 0
      const charge = defineTool({
        name: 'charge',
        description: 'Counts its runs.',
        inputSchema: z.object({ cents: z.int() }),
        execute: ({ cents }) => ({ charged: cents, run: ++runs }),
      })
      const url = await gateway(t, [charge])
      const client = await connectHttp(t, url, era, ops)
      const meta = { 'io.toolgate/idempotency-key': `order-${era}` }
      const first = await client.callTool('charge', { cents: 500 }, { meta })
      const again = await client.callTool('charge', { cents: 500 }, { meta })
      assert.equal(runs, 1)
      assert.deepEqual(again.structuredContent, first.structuredContent)
      const reused = errorOf(await client.callTool('charge', { cents: 900 }, { meta }))
      assert.equal(reused?.code, 'idempotency_key_reused')
      const bad = errorOf(await client.callTool('charge', { cents: 1 }, { meta: { 'io.toolgate/idempotency-key': '' } }))
      assert.equal(bad?.code, 'invalid_idempotency_key')
      assert.equal(runs, 1)
    })
  })
}

describe('POST /mcp, access', () => {
  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
  }
  const post = (url: string, headers: Record<string, string>) =>
    fetch(new URL('/mcp', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(initialize),
    })

  it('refuses a request without a valid API key (401) and one from a foreign browser Origin (403)', async (t) => {
    const url = await gateway(t, [sleepTool], { TOOLGATE_ALLOWED_ORIGINS: 'https://app.example' })
    const anonymous = await post(url, {})
    assert.equal(anonymous.status, 401)
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'unauthorized')
    assert.equal((await post(url, { authorization: 'Bearer not-a-key' })).status, 401)
    const foreign = await post(url, { ...ops, origin: 'https://evil.example' })
    assert.equal(foreign.status, 403)
    assert.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'forbidden_origin')
    assert.equal((await post(url, { ...ops, origin: 'https://app.example' })).status, 200)
    await assert.rejects(connectHttp(t, url, '2026-07-28'))
    await assert.rejects(connectHttp(t, url, '2025-11-25'))
  })

  it('keeps a session to the key that opened it, and at most TOOLGATE_MCP_MAX_SESSIONS of them', async (t) => {
    const app = await buildTestApp(t, {
      tools: [sleepTool],
      env: { TOOLGATE_API_KEYS_FILE: await keysFile(), TOOLGATE_MCP_MAX_SESSIONS: '2' },
    })
    const url = await listen(app)
    const opened = await post(url, ops)
    const session = opened.headers.get('mcp-session-id')
    assert.ok(session)
    const ping = (headers: Record<string, string>) =>
      fetch(new URL('/mcp', url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          'mcp-session-id': session,
          ...headers,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
      })
    assert.equal((await ping(ops)).status, 200)
    assert.equal((await ping(clock)).status, 404, 'another key cannot use the session')
    await post(url, ops)
    await post(url, ops)
    assert.equal(app.mcpEndpoint.sessions, 2)
    assert.equal((await ping(ops)).status, 404, 'the session idle longest was closed to make room')
  })

  it('makes room by closing an idle session, not one whose call still runs', async (t) => {
    const { tool, runs } = recordingTool()
    const app = await buildTestApp(t, { tools: [tool], env: { TOOLGATE_MCP_MAX_SESSIONS: '2' } })
    const url = await listen(app)
    const busy = await connectHttp(t, url, '2025-11-25')
    const idle = await connectHttp(t, url, '2025-11-25')
    const running = busy.callTool('record', { ms: 800 })
    await waitFor(() => runs.length === 1, 'the call to start')
    // The busy session is now the one used longest ago.
    await idle.listTools()
    assert.equal((await post(url, {})).status, 200, 'a third session opens')
    assert.deepEqual((await running).structuredContent, { waited: 800 })
    assert.equal(runs[0]?.aborted, false)
    await assert.rejects(idle.listTools(), 'the idle session was the one closed')
  })

  it('tells a 2025 session that the tools changed when a reload changes them', async (t) => {
    const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-reload-')), 'tools.yaml')
    await writeFile(file, 'builtins:\n  disabled: [get_weather]\n')
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
    const url = await listen(app)
    const client = new LegacyClient({ name: 'toolgate-test', version: '1.0.0' })
    let changed = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++
    })
    await client.connect(new LegacyHttpTransport(new URL('/mcp', url)))
    t.after(() => client.close())
    assert.deepEqual(
      (await client.listTools()).tools.map((tool) => tool.name),
      ['get_time', 'get_date'],
    )
    await writeFile(file, 'builtins:\n  disabled: []\n')
    await app.reloadTools()
    await waitFor(() => changed === 1, 'notifications/tools/list_changed')
    assert.deepEqual(
      (await client.listTools()).tools.map((tool) => tool.name),
      ['get_time', 'get_date', 'get_weather'],
    )
  })

  it('closes with a 2025 client still connected (its event stream open)', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool] })
    const url = await listen(app)
    const client = await connectHttp(t, url, '2025-11-25')
    await client.listTools()
    const started = performance.now()
    await app.close()
    assert.ok(performance.now() - started < 5_000, 'the gateway closed without waiting for the client')
  })
})

async function keysFile(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-keys-')), 'keys.yaml')
  await writeFile(
    file,
    `keys:
  - name: clock
    key: clock-key-0123456789abcdef
    tools: [get_time, sleep, record, charge, pay]
  - name: ops
    key: ops-key-0123456789abcdef
  - name: careful
    key: careful-key-0123456789abcdef
    approve: [sleep]
`,
  )
  return file
}
