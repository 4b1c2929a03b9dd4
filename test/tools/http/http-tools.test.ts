import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFile, mkdtemp } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { buildApp } from '../../../src/app.ts'
import { parseConfigFile } from '../../../src/config/tools-file.ts'
import { ConfigFileError } from '../../../src/config/yaml-file.ts'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, captureLogs, testConfig } from '../../helpers/app.ts'

type Answer = { status: number; headers?: Record<string, string>; body: string } | 'hang'

/** A real local HTTP server standing for a team's tool: it records requests and answers as scripted. */
async function toolServer(t: TestContext, script: Answer[]) {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      received.push({ headers: request.headers, body })
      const answer = script.shift() ?? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }
      if (answer === 'hang') return
      response.writeHead(answer.status, answer.headers ?? {})
      response.end(answer.body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/orders/lookup`, received }
}

const canary = 'canary-token-5f1e2d'
const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
})

async function gatewayWith(t: TestContext, url: string, extra = '') {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-config-'))
  const file = join(dir, 'tools.yaml')
  await writeFile(
    file,
    `tools:
  - name: lookup_order
    description: Look up an order by its id.
    parameters:
      type: object
      properties: { order_id: { type: string, pattern: "^ord_" } }
      required: [order_id]
      additionalProperties: false
    http:
      url: ${url}
      headers: { Authorization: "Bearer \${ORDERS_TOKEN}" }
    timeoutMs: 2000
    attemptTimeoutMs: 500
    retries: 2
${extra}`,
  )
  process.env.ORDERS_TOKEN = canary
  t.after(() => {
    delete process.env.ORDERS_TOKEN
  })
  const { logger, lines } = captureLogs('debug')
  const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file }, logger, random: () => 0 })
  const call = async (args: unknown) => {
    const response = await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['call_1', 'lookup_order', args]]) })
    const reply = response.json<ExecuteReply>()
    const [result] = reply.results
    assert.ok(result)
    return { reply, result }
  }
  return { app, call, lines }
}

describe('HTTP tools from the configuration file', () => {
  it('POSTs the validated arguments with the call id, an idempotency key and the configured headers', async (t) => {
    const upstream = await toolServer(t, [json({ order_id: 'ord_1', status: 'shipped' })])
    const { call } = await gatewayWith(t, upstream.url, '    idempotent: true\n')
    const { result, reply } = await call({ order_id: 'ord_1' })
    assert.deepEqual(result.output, { order_id: 'ord_1', status: 'shipped' })
    assert.equal(reply.messages[0]?.content, '{"order_id":"ord_1","status":"shipped"}')
    const [request] = upstream.received
    assert.equal(request?.body, '{"order_id":"ord_1"}')
    assert.equal(request.headers.authorization, `Bearer ${canary}`)
    assert.equal(request.headers['x-toolgate-call-id'], 'call_1')
    assert.match(String(request.headers['idempotency-key']), /^[\w-]{32}$/)
  })

  it('refuses arguments that break the JSON Schema before sending anything', async (t) => {
    const upstream = await toolServer(t, [])
    const { call } = await gatewayWith(t, upstream.url)
    const { result } = await call({ order_id: 'nope' })
    assert.equal(result.error?.code, 'invalid_arguments')
    assert.match(result.error.message, /arguments\.order_id/)
    assert.equal(upstream.received.length, 0)
  })

  it('passes text/plain through, and refuses other content types and bodies that are not JSON', async (t) => {
    const upstream = await toolServer(t, [
      { status: 200, headers: { 'content-type': 'text/plain' }, body: 'shipped' },
      { status: 200, headers: { 'content-type': 'text/html' }, body: '<p>shipped</p>' },
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{shipped' },
    ])
    const { call } = await gatewayWith(t, upstream.url)
    assert.equal((await call({ order_id: 'ord_1' })).result.output, 'shipped')
    assert.match((await call({ order_id: 'ord_1' })).result.error?.message ?? '', /content type "text\/html"/)
    assert.match((await call({ order_id: 'ord_1' })).result.error?.message ?? '', /not valid JSON/)
  })

  it('refuses an answer larger than 1 MiB, without retrying it', async (t) => {
    const upstream = await toolServer(t, [
      { status: 200, headers: { 'content-type': 'application/json' }, body: `"${'x'.repeat(2 * 1024 * 1024)}"` },
    ])
    const { call } = await gatewayWith(t, upstream.url, '    idempotent: true\n')
    const { result } = await call({ order_id: 'ord_1' })
    assert.deepEqual([result.error?.code, result.attempts], ['tool_error', 1])
    assert.match(result.error?.message ?? '', /answered more than 1048576 bytes/)
  })

  it('retries a 5xx when the tool is idempotent, and not when it is not', async (t) => {
    const idempotent = await toolServer(t, [json({ error: 'busy' }, 503), json({ ok: true })])
    const first = await gatewayWith(t, idempotent.url, '    idempotent: true\n')
    const retried = await first.call({ order_id: 'ord_1' })
    assert.deepEqual([retried.result.ok, retried.result.attempts], [true, 2])
    const once_ = await toolServer(t, [json({ error: 'busy' }, 503)])
    const second = await gatewayWith(t, once_.url)
    const notRetried = await second.call({ order_id: 'ord_1' })
    assert.deepEqual([notRetried.result.error?.code, notRetried.result.attempts], ['tool_error', 1])
  })

  it('never retries another 4xx', async (t) => {
    const upstream = await toolServer(t, [json({ error: 'no such order' }, 404)])
    const { call } = await gatewayWith(t, upstream.url, '    idempotent: true\n')
    const { result } = await call({ order_id: 'ord_9' })
    assert.deepEqual([result.error?.code, result.attempts], ['tool_error', 1])
    assert.match(result.error?.message ?? '', /refused the call \(HTTP 404\)/)
  })

  it("waits the upstream's Retry-After before retrying", async (t) => {
    const upstream = await toolServer(t, [json({}, 429, { 'retry-after': '1' }), json({ ok: true })])
    const { call } = await gatewayWith(t, upstream.url, '    idempotent: true\n')
    const started = performance.now()
    const { result } = await call({ order_id: 'ord_1' })
    assert.deepEqual([result.ok, result.attempts], [true, 2])
    assert.ok(performance.now() - started >= 990, 'the second attempt waited the second it was told to')
  })

  it('cuts a hanging endpoint at the attempt timeout and answers timeout at the deadline', async (t) => {
    const upstream = await toolServer(t, ['hang', 'hang', 'hang'])
    const { call } = await gatewayWith(t, upstream.url, '    idempotent: true\n')
    const { result } = await call({ order_id: 'ord_1' })
    assert.equal(result.error?.code, 'timeout')
    assert.equal(result.attempts, 3)
  })

  it('keeps the secret out of errors, logs and GET /tools', async (t) => {
    // An endpoint that echoes the Authorization header back in its error.
    const upstream = await toolServer(t, [{ status: 400, headers: { 'content-type': 'text/plain' }, body: `bad token Bearer ${canary}` }])
    const { app, call, lines } = await gatewayWith(t, upstream.url)
    const { reply, result } = await call({ order_id: 'ord_1' })
    assert.match(result.error?.message ?? '', /bad token Bearer \[redacted\]/)
    const tools = (await app.inject({ method: 'GET', url: '/tools' })).body
    for (const text of [JSON.stringify(reply), JSON.stringify(lines), tools]) assert.ok(!text.includes(canary))
  })
})

describe('the configuration file', () => {
  const env = { ORDERS_TOKEN: 'x' }
  const tool = (extra = '') => `tools:
  - name: lookup_order
    description: Look up an order.
    parameters: { type: object, properties: { order_id: { type: string } } }
    http: { url: "http://127.0.0.1:9000/orders", headers: { Authorization: "Bearer \${ORDERS_TOKEN}" } }
${extra}`

  function refusal(text: string, environment: Record<string, string> = env): string {
    try {
      parseConfigFile(text, 'tools.yaml', environment)
    } catch (error) {
      assert.ok(error instanceof ConfigFileError)
      return error.message
    }
    assert.fail('expected the file to be refused')
  }

  it('names the line and path of an unknown key, a schema that is not an object, a bad URL', () => {
    assert.match(refusal(tool('    retry: 3\n')), /^tools\.yaml:2:5: tools\[0\]: Unrecognized key: "retry"/)
    assert.match(
      refusal(tool().replace('type: object', 'type: string')),
      /tools\.yaml:4:\d+: tools\[0\]\.parameters\.type: the arguments must be described by an object schema/,
    )
    assert.match(refusal(tool().replace('http://127.0.0.1:9000/orders', 'file:///etc/passwd')), /tools\[0\]\.http\.url: Invalid URL/)
  })

  it('names a ${VAR} the environment does not have', () => {
    assert.match(refusal(tool(), {}), /tools\.yaml:5:\d+: tools\[0\]\.http\.headers\.Authorization: the environment has no ORDERS_TOKEN/)
  })

  it('reads JSON as well, and reports its syntax errors with their position', () => {
    const parsed = parseConfigFile('{"tools": []}', 'tools.json', {})
    assert.deepEqual(parsed.config.tools, [])
    assert.match(refusal('{"tools": [}'), /^tools\.yaml:1:\d+: /)
  })

  it('refuses at start-up a tool named like a built-in one, and unknown built-ins', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-config-'))
    const file = join(dir, 'tools.yaml')
    process.env.ORDERS_TOKEN = 'x'
    t.after(() => {
      delete process.env.ORDERS_TOKEN
    })
    await writeFile(file, tool().replace('name: lookup_order', 'name: get_time'))
    await assert.rejects(buildApp(testConfig({ TOOLGATE_CONFIG: file })), /"get_time" is registered twice/)
    await writeFile(file, 'builtins: { disabled: [get_wether] }\n')
    await assert.rejects(buildApp(testConfig({ TOOLGATE_CONFIG: file })), /no built-in tool named get_wether/)
  })

  it('switches built-in tools off and gives them other limits', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-config-'))
    const file = join(dir, 'tools.yaml')
    await writeFile(file, 'builtins:\n  disabled: [get_weather]\n  overrides: { get_time: { timeoutMs: 50, concurrency: 2 } }\n')
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
    assert.deepEqual(app.registry.names, ['get_time', 'get_date'])
    assert.deepEqual([app.registry.get('get_time')?.timeoutMs, app.registry.get('get_time')?.concurrency], [50, 2])
  })
})
