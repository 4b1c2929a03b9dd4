import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, captureLogs, chatCompletion, type CallSpec } from '../helpers/app.ts'

/** A secret nobody could write by chance; if it shows up anywhere it leaked from where it was planted. */
const canary = (what: string) => `canary-${what}-${randomBytes(8).toString('hex')}`

const secrets = {
  /** One of TOOLGATE_API_KEYS, sent by the client as its bearer token. */
  apiKey: canary('api-key'),
  /** TOOLGATE_ADMIN_KEY. */
  adminKey: canary('admin-key'),
  /** A bearer token that is no key at all. */
  wrongKey: canary('wrong-key'),
  /** Credentials a client sends in headers toolgate does not use. */
  xApiKey: canary('x-api-key'),
  cookie: canary('cookie'),
  /** The HTTP tools' upstream token and URL secret, from the configuration file's ${VAR}s. */
  toolToken: canary('tool-token'),
  urlToken: canary('url-token'),
  /** A value in a call's arguments: "tool arguments and results are never logged". */
  argument: canary('argument'),
}

/** The local stand-in for a team's tool endpoints; it echoes what it got into its errors, as real ones do. */
async function upstream(t: TestContext) {
  const received: IncomingHttpHeaders[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      received.push(request.headers)
      const authorization = String(request.headers.authorization)
      if (request.url?.startsWith('/hook') === true) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end(`no hook at ${request.url}`)
        return
      }
      const { order_id: order } = JSON.parse(body) as { order_id: string }
      const answers: Record<string, [number, string, string]> = {
        ord_ok: [200, 'application/json', '{"status":"shipped"}'],
        ord_unauthorized: [401, 'text/plain', `token rejected: ${authorization}`],
        ord_down: [503, 'text/plain', `upstream down, your token was ${authorization}`],
        ord_html: [200, 'text/html', `<p>${authorization}</p>`],
      }
      const [status, type, text] = answers[order] ?? [400, 'text/plain', `unknown order for ${authorization}`]
      response.writeHead(status, { 'content-type': type, 'x-echo': authorization }).end(text)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { base: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, received }
}

/** The configuration file: every secret in it is a ${VAR}. */
const configYaml = (base: string, extra = '') => `tools:
  - name: lookup_order
    description: Look up an order by its id.
    parameters:
      type: object
      properties: { order_id: { type: string } }
      required: [order_id]
      additionalProperties: false
    http:
      url: ${base}/orders/lookup
      headers: { Authorization: "Bearer \${CANARY_TOOL_TOKEN}", x-api-key: "\${CANARY_TOOL_TOKEN}" }
  - name: call_hook
    description: Calls a hook whose URL carries a token.
    parameters: { type: object, properties: {} }
    http: { url: "${base}/hook?token=\${CANARY_URL_TOKEN}" }
  - name: with_credentials
    description: Calls an endpoint whose URL carries credentials, which fetch refuses.
    parameters: { type: object, properties: {} }
    http: { url: "http://toolgate:\${CANARY_URL_TOKEN}@127.0.0.1:9/creds" }
${extra}builtins: { disabled: [get_weather] }
`

async function gateway(t: TestContext) {
  const { base, received } = await upstream(t)
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-canary-')), 'tools.yaml')
  await writeFile(file, configYaml(base))
  process.env.CANARY_TOOL_TOKEN = secrets.toolToken
  process.env.CANARY_URL_TOKEN = secrets.urlToken
  t.after(() => {
    delete process.env.CANARY_TOOL_TOKEN
    delete process.env.CANARY_URL_TOKEN
  })
  const { logger, lines } = captureLogs('trace')
  const app = await buildTestApp(t, {
    logger,
    env: {
      TOOLGATE_API_KEYS: `other-key-0123456789,${secrets.apiKey}`,
      TOOLGATE_ADMIN_KEY: secrets.adminKey,
      TOOLGATE_CONFIG: file,
      TOOLGATE_MAX_BODY_BYTES: '65536',
    },
  })
  const responses: LightMyRequestResponse[] = []
  const request = async (options: InjectOptions) => {
    const response = await app.inject(options)
    responses.push(response)
    return response
  }
  return { app, file, base, received, lines, responses, request }
}

/** Every header a careful client would send, its key included. */
const clientHeaders = {
  authorization: `Bearer ${secrets.apiKey}`,
  'x-api-key': secrets.xApiKey,
  cookie: `session=${secrets.cookie}; theme=dark`,
  'proxy-authorization': `Basic ${secrets.xApiKey}`,
}

const planted = Object.entries(secrets)

/** No secret in any log line, response body or response header. */
function assertNoCanary(lines: readonly Record<string, unknown>[], responses: readonly LightMyRequestResponse[]): void {
  for (const [name, secret] of planted) {
    for (const line of lines)
      assert.ok(!JSON.stringify(line).includes(secret), `the ${name} leaked into the log: ${JSON.stringify(line).slice(0, 400)}`)
    for (const response of responses) {
      assert.ok(!response.body.includes(secret), `the ${name} leaked into a response body: ${response.body.slice(0, 400)}`)
      assert.ok(
        !JSON.stringify(response.headers).includes(secret),
        `the ${name} leaked into a response header: ${JSON.stringify(response.headers)}`,
      )
    }
  }
}

describe('canary secrets', () => {
  it('never show up in a log line (at trace level), a response body or a response header', async (t) => {
    const { base, file, received, lines, responses, request } = await gateway(t)
    const execute = (payload: unknown, headers: Record<string, string> = clientHeaders) =>
      request({
        method: 'POST',
        url: '/execute',
        headers: { 'content-type': 'application/json', ...headers },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      })

    // Successes: built-in and HTTP tools, as a reply and as a stream, and every GET route.
    const ok = await execute(
      chatCompletion([
        ['c1', 'get_time', { timezone: 'UTC' }],
        ['c2', 'lookup_order', { order_id: 'ord_ok' }],
      ]),
    )
    assert.equal(ok.statusCode, 200, ok.body)
    assert.equal(ok.json<ExecuteReply>().status, 'complete', ok.body)
    const streamed = await execute(
      assistantMessage([
        ['s1', 'get_date', {}],
        ['s2', 'lookup_order', { order_id: 'ord_ok' }],
      ]),
      { ...clientHeaders, accept: 'application/x-ndjson' },
    )
    assert.equal(streamed.statusCode, 200)
    assert.match(streamed.body, /"event":"done","status":"complete"/)
    for (const url of ['/tools', '/tools?format=anthropic', '/openapi.json', '/metrics', '/healthz', '/readyz']) {
      const response = await request({ method: 'GET', url, headers: clientHeaders })
      assert.equal(response.statusCode, 200, `${url}: ${response.body.slice(0, 200)}`)
    }
    // The secrets were really used: the upstream got the token from the configuration file.
    assert.ok(
      received.some((headers) => headers.authorization === `Bearer ${secrets.toolToken}` && headers['x-api-key'] === secrets.toolToken),
    )

    // Tool errors whose upstream answers echo the token (status text, body), a URL with a token, invalid arguments.
    const failing: CallSpec[] = [
      ['f1', 'lookup_order', { order_id: 'ord_unauthorized' }],
      ['f2', 'lookup_order', { order_id: 'ord_down' }],
      ['f3', 'lookup_order', { order_id: 'ord_html' }],
      ['f4', 'lookup_order', { order_id: 'ord_missing' }],
      ['f5', 'call_hook', {}],
      ['f6', 'with_credentials', {}],
      ['f7', 'lookup_order', { order_id: 5, note: secrets.argument }],
      ['f8', 'get_time', { timezone: secrets.argument }],
      ['f9', 'no_such_tool', { token: secrets.argument }],
    ]
    const failed = await execute(assistantMessage(failing))
    assert.equal(failed.statusCode, 200)
    const reply = failed.json<ExecuteReply>()
    assert.equal(reply.status, 'failed')
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      [
        'tool_error',
        'tool_error',
        'tool_error',
        'tool_error',
        'tool_error',
        'tool_error',
        'invalid_arguments',
        'invalid_arguments',
        'unknown_tool',
      ],
    )
    // The secret did reach those error texts (echoed by the upstream, or in the URL) and was struck out of each.
    for (const index of [0, 3, 4, 5])
      assert.match(reply.results[index]?.error?.message ?? '', /: .*\[redacted\]/, `result ${String(index)}`)
    assert.ok(received.some((headers) => headers.authorization === `Bearer ${secrets.toolToken}`))
    assert.ok(received.length >= 7, `the upstream got ${String(received.length)} requests`)

    // 401s: no key, a wrong key, the key without "Bearer", the key in a header toolgate does not read, the admin route.
    const unauthorized = [
      await execute(assistantMessage([['u1', 'get_time', {}]]), { 'x-api-key': secrets.xApiKey, cookie: `session=${secrets.cookie}` }),
      await execute(assistantMessage([['u2', 'get_time', {}]]), { authorization: `Bearer ${secrets.wrongKey}` }),
      await execute(assistantMessage([['u3', 'get_time', {}]]), { authorization: secrets.apiKey }),
      await execute(assistantMessage([['u4', 'get_time', {}]]), { 'x-api-key': secrets.apiKey }),
      await execute(assistantMessage([['u5', 'get_time', {}]]), { authorization: `Bearer ${secrets.apiKey}x` }),
      await request({
        method: 'GET',
        url: '/tools',
        headers: { authorization: `Bearer ${secrets.wrongKey}`, cookie: `session=${secrets.cookie}` },
      }),
      await request({ method: 'POST', url: '/admin/reload', headers: clientHeaders }),
      await request({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${secrets.adminKey.slice(0, -1)}` } }),
    ]
    assert.deepEqual(
      unauthorized.map((response) => response.statusCode),
      unauthorized.map(() => 401),
    )

    // Refused requests carrying secrets in what is refused: not JSON, not a payload, duplicate ids, too large, wrong type.
    const refused = [
      await execute(`{"token":"${secrets.argument}"`),
      await execute({ role: 'assistant', tool_calls: [{ id: 1, function: { name: 'get_time', arguments: secrets.argument } }] }),
      await execute({ object: 'chat.completion', choices: [{ message: { tool_calls: secrets.argument } }] }),
      await execute(
        assistantMessage([
          ['d', 'get_time', { timezone: secrets.argument }],
          ['d', 'get_date', {}],
        ]),
      ),
      await execute(JSON.stringify({ pad: secrets.argument.repeat(5_000) })),
      await request({
        method: 'POST',
        url: '/execute',
        headers: { ...clientHeaders, 'content-type': 'text/plain' },
        payload: secrets.argument,
      }),
    ]
    assert.deepEqual(
      refused.map((response) => response.statusCode),
      [400, 400, 400, 400, 413, 415],
    )

    // The admin route: a reload, and a reload of a broken file (the secrets still in it).
    const reloaded = await request({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${secrets.adminKey}` } })
    assert.equal(reloaded.statusCode, 200, reloaded.body)
    await writeFile(file, configYaml(base, '  - name: broken\n    http: { url: "${CANARY_URL_TOKEN}" }\n'))
    const broken = await request({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${secrets.adminKey}` } })
    assert.equal(broken.statusCode, 422, broken.body)

    // The log was written, at trace level, for all of it.
    const messages = new Set(lines.map((line) => line.msg))
    for (const expected of ['incoming request', 'request completed', 'call answered', 'tools reloaded'])
      assert.ok(messages.has(expected), `no "${expected}" line`)
    assert.ok(
      lines.some((line) => line.msg === 'request completed' && line.code === 'invalid_payload'),
      'a refusal is logged with its code',
    )
    assert.ok(lines.length > 50, `only ${String(lines.length)} log lines`)
    assertNoCanary(lines, responses)
  })

  it('keeps a ${VAR} value out of the error about an unknown built-in tool', async (t) => {
    const { file, base, lines, responses, request } = await gateway(t)
    await writeFile(file, configYaml(base).replace('disabled: [get_weather]', 'disabled: [get_weather, "${CANARY_URL_TOKEN}"]'))
    const response = await request({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${secrets.adminKey}` } })
    assert.equal(response.statusCode, 422)
    assertNoCanary(lines, responses)
  })
})
