import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { assistantMessage, waitFor } from '../helpers/app.ts'
import { serveOnLoopback, startServer } from '../helpers/server-process.ts'

const agentKey = 'agent-key-access-log-0123456789'
const tightKey = 'tight-key-access-log-0123456789'

type Line = Record<string, unknown>

/** An upstream for the `hold` tool: it answers only once released, or when its caller goes away. */
async function holdingUpstream(t: TestContext): Promise<{ base: string; held: ServerResponse[] }> {
  const held: ServerResponse[] = []
  const server = createServer((incoming, response) => {
    incoming.resume()
    held.push(response)
  })
  return { base: await serveOnLoopback(t, server), held }
}

/** toolgate as its own process at info level: API keys (one allowed a request a minute), a tool that holds, room for two calls. */
async function gateway(t: TestContext, upstream: string) {
  const directory = await mkdtemp(join(tmpdir(), 'toolgate-access-log-'))
  t.after(() => rm(directory, { recursive: true, force: true }))
  const tools = join(directory, 'tools.yaml')
  await writeFile(
    tools,
    `tools:\n  - name: hold\n    description: Answers when released.\n    parameters: { type: object, properties: {} }\n    http: { url: "${upstream}/hold" }\n    timeoutMs: 20000\n`,
  )
  const keys = join(directory, 'keys.yaml')
  await writeFile(keys, `keys:\n  - { name: agent, key: ${agentKey} }\n  - { name: tight, key: ${tightKey}, rateLimitPerMinute: 1 }\n`)
  return startServer(t, {
    LOG_LEVEL: 'info',
    TOOLGATE_CONFIG: tools,
    TOOLGATE_API_KEYS_FILE: keys,
    TOOLGATE_CONCURRENCY: '2',
    TOOLGATE_MAX_QUEUED_CALLS: '0',
    TOOLGATE_MAX_BODY_BYTES: '65536',
    TOOLGATE_HEADERS_TIMEOUT_MS: '1000',
    TOOLGATE_REQUEST_TIMEOUT_MS: '1000',
  })
}

/** A request written by hand, for what fetch will not send: an undecodable URL, a body that stops coming. */
function rawRequest(
  base: string,
  options: { path: string; id: string; method?: string; headers?: Record<string, string>; body?: string; end?: boolean },
) {
  const client = request(`${base}${options.path}`, {
    method: options.method ?? 'GET',
    headers: { 'x-request-id': options.id, ...options.headers },
  })
  const status = new Promise<number | undefined>((resolve) => {
    client.on('response', (response) => {
      response.resume()
      resolve(response.statusCode)
    })
    client.on('error', () => {
      resolve(undefined)
    })
  })
  if (options.body !== undefined) client.write(options.body)
  if (options.end !== false) client.end()
  return { client, status }
}

describe('access log', () => {
  it('writes one line per request once it is answered or its client has gone, refusals and streams too, and one per call', async (t) => {
    const upstream = await holdingUpstream(t)
    const server = await gateway(t, upstream.base)
    const agent = { authorization: `Bearer ${agentKey}` }
    const json = { 'content-type': 'application/json' }
    const clock = assistantMessage([
      ['call_time', 'get_time', { timezone: 'UTC' }],
      ['call_date', 'get_date', {}],
    ])
    /** What each request got: its status as the client saw it (undefined when the client gave up). */
    const sent = new Map<string, number | undefined>()
    const send = async (id: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => {
      const response = await fetch(`${server.base}${path}`, { ...init, headers: { 'x-request-id': id, ...init.headers } })
      await response.arrayBuffer()
      assert.equal(response.headers.get('x-request-id'), id)
      sent.set(id, response.status)
      return response
    }
    const post = (id: string, body: unknown, headers: Record<string, string> = {}) =>
      send(id, '/execute', {
        method: 'POST',
        headers: { ...json, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })

    assert.equal((await post('ok', clock, agent)).status, 200)
    const streamed = await post('streamed', clock, { ...agent, accept: 'application/x-ndjson' })
    assert.equal(streamed.headers.get('content-type'), 'application/x-ndjson')
    assert.equal((await post('invalid', { nothing: 'known' }, agent)).status, 400)
    assert.equal((await post('no-key', clock)).status, 401)
    assert.equal((await post('origin', clock, { ...agent, origin: 'https://evil.example' })).status, 403)
    const longPath = `/nowhere/${'x'.repeat(2_000)}`
    assert.equal((await send('unknown', longPath, { headers: agent })).status, 404)
    await send('other-method', '/execute', { headers: agent })
    assert.equal((await post('too-large', JSON.stringify({ pad: 'x'.repeat(100_000) }), agent)).status, 413)
    const tight = { authorization: `Bearer ${tightKey}` }
    assert.equal((await post('tight-1', clock, tight)).status, 200)
    assert.equal((await post('tight-2', clock, tight)).status, 429)
    const badUrl = rawRequest(server.base, { path: '/%zz', id: 'bad-url', headers: agent })
    sent.set('bad-url', await badUrl.status)
    assert.equal(sent.get('bad-url'), 400)

    // Two calls hold the gateway full: the next batch is shed before its body is read; then the
    // client of the held batch goes away.
    const held = rawRequest(server.base, {
      path: '/execute',
      id: 'gone',
      method: 'POST',
      headers: { ...json, ...agent },
      body: JSON.stringify(
        assistantMessage([
          ['call_hold_1', 'hold'],
          ['call_hold_2', 'hold'],
        ]),
      ),
    })
    await waitFor(() => upstream.held.length === 2, 'both calls to reach the upstream')
    assert.equal((await post('shed', clock, agent)).status, 503)
    held.client.destroy()
    sent.set('gone', await held.status)
    // A body that stops coming: Node cuts it at the request timeout, with a 408 written to the socket.
    const slow = rawRequest(server.base, {
      path: '/execute',
      id: 'slow-body',
      method: 'POST',
      headers: { ...json, ...agent, 'content-length': '1000' },
      body: '{"role":',
      end: false,
    })
    sent.set('slow-body', await slow.status)
    assert.equal(sent.get('slow-body'), 408)

    const lines = (): Line[] =>
      server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Line)
    const accessLines = () => lines().filter((line) => line.msg === 'request completed')
    await waitFor(() => [...sent.keys()].every((id) => accessLines().some((line) => line.reqId === id)), 'a line for every request')
    await waitFor(() => lines().filter((line) => line.msg === 'call answered').length === 8, 'a line for every call')
    // Nothing else comes later: the lines of the last request were written, and no other request was made.
    await new Promise((resolve) => setTimeout(resolve, 200))

    const byId = Map.groupBy(accessLines(), (line) => String(line.reqId))
    assert.deepEqual([...byId.keys()].sort(), [...sent.keys()].sort(), 'a line for each request, and only for them')
    for (const [id, logged] of byId) {
      assert.equal(logged.length, 1, `one line for ${id}`)
      const [line = {}] = logged
      assert.equal(typeof line.responseTimeMs, 'number', id)
      assert.equal(line.remoteAddress, '127.0.0.1', id)
      assert.equal(typeof line.remotePort, 'number', id)
      if (id !== 'gone') assert.equal(line.statusCode, sent.get(id), `the status of ${id}`)
    }
    const fields = (id: string, ...keys: string[]) => {
      const line = byId.get(id)?.[0] ?? {}
      return Object.fromEntries(keys.map((key) => [key, line[key]]))
    }
    const shape = ['method', 'url', 'route', 'caller', 'code', 'aborted']
    assert.deepEqual(fields('ok', ...shape), {
      method: 'POST',
      url: '/execute',
      route: '/execute',
      caller: 'agent',
      code: undefined,
      aborted: undefined,
    })
    assert.deepEqual(fields('streamed', ...shape, 'statusCode'), { ...fields('ok', ...shape), statusCode: 200 })
    assert.deepEqual(fields('invalid', 'caller', 'code', 'path'), { caller: 'agent', code: 'invalid_payload', path: 'body' })
    assert.deepEqual(fields('no-key', 'caller', 'code', 'route'), { caller: undefined, code: 'unauthorized', route: '/execute' })
    assert.deepEqual(fields('origin', 'caller', 'code'), { caller: undefined, code: 'forbidden_origin' })
    assert.deepEqual(fields('unknown', 'method', 'url', 'route', 'caller'), {
      method: 'GET',
      url: `${longPath.slice(0, 256)}…`,
      route: null,
      caller: 'agent',
    })
    assert.deepEqual(fields('other-method', 'method', 'route'), { method: 'GET', route: null })
    assert.deepEqual(fields('too-large', 'caller', 'code'), { caller: 'agent', code: 'body_too_large' })
    assert.deepEqual(fields('tight-1', 'caller', 'code'), { caller: 'tight', code: undefined })
    assert.deepEqual(fields('tight-2', 'caller', 'code'), { caller: 'tight', code: 'rate_limited' })
    assert.deepEqual(fields('bad-url', 'url', 'code'), { url: '/%zz', code: 'bad_request' })
    assert.deepEqual(fields('shed', 'caller', 'code'), { caller: 'agent', code: 'queue_full' })
    assert.deepEqual(fields('gone', 'route', 'caller', 'statusCode', 'aborted'), {
      route: '/execute',
      caller: 'agent',
      statusCode: undefined,
      aborted: true,
    })
    assert.deepEqual(fields('slow-body', 'caller', 'code', 'reason', 'aborted'), {
      caller: 'agent',
      code: 'request_timeout',
      reason: 'ERR_HTTP_REQUEST_TIMEOUT',
      aborted: undefined,
    })

    // One line per call, with its request's id and the caller's key name.
    const calls = lines().filter((line) => line.msg === 'call answered')
    assert.deepEqual(calls.map((line) => [line.reqId, line.caller, line.callId, line.outcome]).sort(), [
      ['gone', 'agent', 'call_hold_1', 'cancelled'],
      ['gone', 'agent', 'call_hold_2', 'cancelled'],
      ['ok', 'agent', 'call_date', 'ok'],
      ['ok', 'agent', 'call_time', 'ok'],
      ['streamed', 'agent', 'call_date', 'ok'],
      ['streamed', 'agent', 'call_time', 'ok'],
      ['tight-1', 'tight', 'call_date', 'ok'],
      ['tight-1', 'tight', 'call_time', 'ok'],
    ])
    // Fastify's two lines per request are gone, and no refusal takes a line of its own.
    const messages = new Set(lines().map((line) => line.msg))
    for (const gone of ['incoming request', 'request refused', 'connection refused a request', 'client went away; cancelling its calls'])
      assert.ok(!messages.has(gone), `no "${gone}" line`)
  })
})
