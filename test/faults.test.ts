// Fault injection: each fault is sent in a batch between two healthy calls, through the real HTTP
// server. Every test checks that the healthy calls still succeed, that the faulty call is answered
// exactly once with its stable code and a message a model can act on, that the reply keeps the
// calls' ids and order, that nothing is left running or waiting, and that the gateway answers the
// next request.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { buildApp, type App } from '../src/app.ts'
import { ConfigFileError } from '../src/config/yaml-file.ts'
import type { CallErrorCode } from '../src/errors.ts'
import type { ExecuteReply } from '../src/batch/format-reply.ts'
import { createGetDate } from '../src/tools/builtin/get-date.ts'
import { createGetTime } from '../src/tools/builtin/get-time.ts'
import { defineTool, type Tool } from '../src/tools/tool.ts'
import { buildTestApp, captureLogs, chatCompletion, listen, testConfig, waitFor, type CallSpec } from './helpers/app.ts'
import { hangTool, sleepTool } from './helpers/tools.ts'

// Every unhandled rejection of this process, so that a test can say none happened during it.
const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => {
  unhandled.push(reason)
})

type LogLine = Record<string, unknown>

interface Gateway {
  app: App
  base: string
  lines: LogLine[]
}

interface Sent {
  status: number
  text: string
  reply: ExecuteReply
}

/** The batch a fault is injected into: a healthy call on each side of it. */
function around(fault: CallSpec): CallSpec[] {
  return [['call_before', 'get_time', { timezone: 'UTC' }], fault, ['call_after', 'get_date', { timezone: 'Europe/Paris' }]]
}

async function execute(base: string, calls: CallSpec[]): Promise<Sent> {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chatCompletion(calls)),
  })
  const text = await response.text()
  return { status: response.status, text, reply: JSON.parse(text) as ExecuteReply }
}

/** How many times the gateway answered the call `id` (one "call answered" line per answer). */
function answersOf(lines: LogLine[], id: string): number {
  return lines.filter((line) => line.msg === 'call answered' && line.callId === id).length
}

/** What the faulty call must be answered: an error, or (for a fault the gateway absorbs) an output. */
type Outcome = { code: CallErrorCode; message: RegExp } | { ok: true; output: unknown }
type Expected = Outcome & { id: string }

/**
 * The reply is a 200 in the calls' order with their ids, each call answered exactly once; every
 * call but the faulty one succeeded; the faulty one has the expected code and message (or output).
 */
function assertAnswered(sent: Sent, calls: CallSpec[], lines: LogLine[], expected: Expected): void {
  assert.equal(sent.status, 200, sent.text)
  assert.doesNotMatch(sent.text, /\n\s+at .+:\d+:\d+/, 'no stack trace in the reply')
  const { reply } = sent
  const ids = calls.map(([id]) => id)
  assert.deepEqual(
    reply.results.map((result) => result.id),
    ids,
    "the results keep the calls' ids and order",
  )
  assert.deepEqual(
    reply.messages.map((message) => message.tool_call_id),
    ids,
    "the tool messages keep the calls' ids and order",
  )
  for (const id of ids) assert.equal(answersOf(lines, id), 1, `${id} is answered exactly once`)
  for (const [index, result] of reply.results.entries()) {
    const content = reply.messages[index]?.content ?? ''
    if (result.id !== expected.id) {
      assert.equal(result.ok, true, `the healthy call ${result.id} failed: ${JSON.stringify(result.error)}`)
      assert.deepEqual(JSON.parse(content), result.output)
      continue
    }
    if ('ok' in expected) {
      assert.equal(result.ok, true, JSON.stringify(result.error))
      assert.deepEqual(result.output, expected.output)
      assert.deepEqual(JSON.parse(content), expected.output)
      continue
    }
    assert.equal(result.ok, false)
    assert.equal(result.error?.code, expected.code, result.error?.message)
    assert.match(result.error.message, expected.message)
    assert.match(result.error.message, /\S/, 'the message says something')
    assert.deepEqual(JSON.parse(content), { error: result.error }, 'the model reads the code and the message')
    assert.ok(reply.errors?.includes(`${result.name}: ${result.error.message}`), 'the aggregated errors name it')
  }
  assert.equal(reply.status, 'ok' in expected ? 'complete' : 'partial')
}

/** Nothing running or waiting once the batch is answered, and the gateway serves the next request. */
async function assertStillServing({ app, base }: Gateway): Promise<void> {
  const { running, waiting } = app.executor.stats
  assert.deepEqual({ running, waiting }, { running: 0, waiting: 0 })
  const next = await execute(base, [['call_next', 'get_time', { timezone: 'Asia/Tokyo' }]])
  assert.equal(next.status, 200, next.text)
  assert.equal(next.reply.status, 'complete')
  assert.equal(next.reply.results[0]?.id, 'call_next')
}

/** Fails the test if an unhandled rejection happened since this was called. */
function watchUnhandled(): () => void {
  const start = unhandled.length
  return () => {
    assert.deepEqual(unhandled.slice(start).map(String), [], 'no unhandled rejection')
  }
}

async function inProcessGateway(t: TestContext, tools: Tool[]): Promise<Gateway> {
  const { logger, lines } = captureLogs('debug')
  const app = await buildTestApp(t, { tools: [createGetTime(), createGetDate(), sleepTool, ...tools], logger })
  return { app, base: await listen(app), lines }
}

/** Injects one in-process fault between two healthy calls and checks the whole contract. */
async function injectToolFault(t: TestContext, tool: Tool, args: unknown, expected: Outcome): Promise<Gateway> {
  const settled = watchUnhandled()
  const gateway = await inProcessGateway(t, [tool])
  const calls = around(['call_fault', tool.name, args])
  assertAnswered(await execute(gateway.base, calls), calls, gateway.lines, { id: 'call_fault', ...expected })
  await assertStillServing(gateway)
  settled()
  return gateway
}

const revokedProxy = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

/** Values a tool may throw instead of an Error, and what the model must read for each. */
const thrownValues = {
  'a string': { make: () => 'the quota is exhausted, try tomorrow', message: /^the quota is exhausted, try tomorrow$/ },
  undefined: { make: () => undefined, message: /undefined was thrown/ },
  null: { make: () => null, message: /^null was thrown$/ },
  'a number': { make: () => 42, message: /^42 was thrown$/ },
  'a plain object': { make: () => ({ reason: 'quota', retryInSeconds: 30 }), message: /^\{"reason":"quota","retryInSeconds":30\}$/ },
  'an object whose toString throws': {
    make: () => ({
      reason: 'locked',
      toString(): string {
        throw new Error('no toString for you')
      },
    }),
    message: /"reason":"locked"/,
  },
  'an object whose toString and toJSON throw': {
    make: () => ({
      toString(): string {
        throw new Error('no toString for you')
      },
      toJSON(): never {
        throw new Error('no toJSON either')
      },
    }),
    message: /^an unprintable value was thrown$/,
  },
} as const

type ThrownKind = keyof typeof thrownValues
const thrownKinds = Object.keys(thrownValues) as [ThrownKind, ...ThrownKind[]]

function throwingTool(name: string, how: 'sync' | 'async', make: () => unknown, timeoutMs = 2_000): Tool {
  return defineTool({
    name,
    description: 'Fails with something that is not an Error.',
    inputSchema: z.object({}),
    timeoutMs,
    execute:
      how === 'sync'
        ? (): never => {
            throw make()
          }
        : async (): Promise<never> => {
            await delay(1)
            throw make()
          },
  })
}

function returningTool(name: string, make: () => unknown): Tool {
  return defineTool({ name, description: 'Returns what it is made to.', inputSchema: z.object({}), execute: make })
}

describe('faults of in-process tools', () => {
  it('answers timeout at its deadline for a tool that hangs forever and ignores its AbortSignal', async (t) => {
    let sawAbort = false
    const tool = hangTool({
      name: 'hang_forever',
      timeoutMs: 150,
      execute: (_args, { signal }) => {
        // It looks at the signal only to prove it fired; it keeps hanging regardless.
        signal.addEventListener('abort', () => (sawAbort = true))
        return new Promise<never>(() => undefined)
      },
    })
    const { app, lines } = await injectToolFault(
      t,
      tool,
      {},
      { code: 'timeout', message: /^hang_forever did not finish within its deadline of 150 ms$/ },
    )
    // Its slot is free (checked above); the gateway still counts the tool that never stops.
    assert.equal(app.executor.stats.abandoned, 1)
    const answered = lines.find((line) => line.msg === 'call answered' && line.callId === 'call_fault')
    // At its own deadline, not the server's 30 s default: generous bounds that only prove that.
    assert.ok(
      Number(answered?.durationMs) >= 140 && Number(answered?.durationMs) < 10_000,
      `answered after ${String(answered?.durationMs)} ms`,
    )
    assert.equal(sawAbort, true, 'the tool was told at the deadline')
  })

  for (const how of ['async', 'sync'] as const) {
    for (const kind of thrownKinds) {
      const label = how === 'sync' ? `throws ${kind} synchronously` : `rejects with ${kind}`
      it(`answers tool_error for a tool that ${label}`, async (t) => {
        const { make, message } = thrownValues[kind]
        await injectToolFault(t, throwingTool('throws_value', how, make), {}, { code: 'tool_error', message })
      })
    }
  }

  it('answers tool_error with a message a model can act on for a tool that throws an empty string', async (t) => {
    await injectToolFault(
      t,
      throwingTool('throws_empty', 'async', () => ''),
      {},
      { code: 'tool_error', message: /\S/ },
    )
  })

  it('answers tool_error for a tool that synchronously throws an object every operation on fails (a revoked Proxy)', async (t) => {
    await injectToolFault(
      t,
      throwingTool('throws_revoked', 'sync', revokedProxy),
      {},
      { code: 'tool_error', message: /unprintable value was thrown/ },
    )
  })

  it('answers tool_error at once for a tool that rejects with a revoked Proxy', async (t) => {
    await injectToolFault(
      t,
      throwingTool('rejects_revoked', 'async', revokedProxy, 300),
      {},
      { code: 'tool_error', message: /unprintable value was thrown/ },
    )
  })

  it('answers invalid_result for a tool that returns a circular object', async (t) => {
    const cycle: Record<string, unknown> = { name: 'loop' }
    cycle.self = cycle
    await injectToolFault(
      t,
      returningTool('returns_cycle', () => cycle),
      {},
      {
        code: 'invalid_result',
        message: /^returns_cycle returned a value that cannot be serialized as JSON: Converting circular structure to JSON/,
      },
    )
  })

  const unserializable: Array<[string, () => unknown, RegExp]> = [
    ['a BigInt', () => 10n ** 30n, /cannot be serialized as JSON: .*BigInt/],
    ['an object holding a BigInt', () => ({ total: 10n }), /cannot be serialized as JSON: .*BigInt/],
    ['a function', () => () => 'hi', /cannot be serialized as JSON: a function is not JSON/],
    ['a symbol', () => Symbol('result'), /cannot be serialized as JSON: a symbol is not JSON/],
    [
      'an object whose toJSON throws',
      () => ({
        toJSON(): never {
          throw new Error('toJSON exploded')
        },
      }),
      /cannot be serialized as JSON: toJSON exploded/,
    ],
  ]
  for (const [what, make, message] of unserializable) {
    it(`answers invalid_result for a tool that returns ${what}`, async (t) => {
      await injectToolFault(t, returningTool('returns_bad', make), {}, { code: 'invalid_result', message })
    })
  }

  it('answers null for a tool that returns undefined (nothing to say is not a failure)', async (t) => {
    await injectToolFault(
      t,
      returningTool('returns_undefined', () => undefined),
      {},
      { ok: true, output: null },
    )
  })

  it('answers timeout, then absorbs the rejection of a tool that rejects after its deadline passed', async (t) => {
    let rejected = false
    const tool = defineTool({
      name: 'rejects_late',
      description: 'Rejects well after its deadline, ignoring its signal.',
      inputSchema: z.object({}),
      timeoutMs: 100,
      execute: () =>
        new Promise<never>((_resolve, reject) => {
          setTimeout(() => {
            rejected = true
            reject(new Error('too late to matter'))
          }, 250)
        }),
    })
    const settled = watchUnhandled()
    const { app, lines } = await injectToolFault(
      t,
      tool,
      {},
      { code: 'timeout', message: /^rejects_late did not finish within its deadline of 100 ms$/ },
    )
    await waitFor(() => rejected, 'the late rejection')
    await waitFor(() => app.executor.stats.abandoned === 0, 'the gateway to stop counting the abandoned call')
    // The gateway saw it settle (and logged how far past its deadline), and nothing else happened.
    await waitFor(
      () => lines.some((line) => line.msg === 'cancelled tool settled' && line.callId === 'call_fault'),
      'the overrun to be logged',
    )
    await delay(20)
    settled()
    assert.equal(answersOf(lines, 'call_fault'), 1, 'the late rejection is not a second answer')
  })

  it('raises no unhandled rejection for a tool that rejects with a revoked Proxy after its deadline', async (t) => {
    let rejected = false
    const tool = defineTool({
      name: 'rejects_revoked_late',
      description: 'Rejects with a revoked Proxy after its deadline.',
      inputSchema: z.object({}),
      timeoutMs: 60,
      execute: () =>
        new Promise<never>((_resolve, reject) => {
          setTimeout(() => {
            rejected = true
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejecting with a hostile non-Error is the fault
            reject(revokedProxy())
          }, 150)
        }),
    })
    const settled = watchUnhandled()
    await injectToolFault(t, tool, {}, { code: 'timeout', message: /did not finish within its deadline of 60 ms/ })
    await waitFor(() => rejected, 'the late rejection')
    await delay(20)
    settled()
  })

  it('answers once, with what it resolved, a tool that resolves and then rejects and throws', async (t) => {
    const tool = defineTool({
      name: 'settles_thrice',
      description: 'Returns a thenable that resolves, then rejects, then throws.',
      inputSchema: z.object({}),
      execute: () => ({
        then(resolve: (value: unknown) => void, reject: (reason: unknown) => void) {
          resolve({ rows: 2 })
          reject(new Error('failed after resolving'))
          throw new Error('threw after resolving')
        },
      }),
    })
    await injectToolFault(t, tool, {}, { ok: true, output: { rows: 2 } })
  })

  it('answers what a tool resolved even if it keeps writing into that value afterwards', async (t) => {
    const tool = defineTool({
      name: 'keeps_writing',
      description: 'Resolves, then keeps filling in what it returned.',
      inputSchema: z.object({}),
      execute: () => {
        const result: Record<string, unknown> = { rows: [1, 2] }
        setTimeout(() => {
          result.partial = true
          result.self = result
        }, 10)
        return result
      },
    })
    const gateway = await inProcessGateway(t, [tool])
    // A slower healthy call keeps the batch open while the tool writes.
    const calls: CallSpec[] = [...around(['call_fault', 'keeps_writing', {}]), ['call_slow', 'sleep', { ms: 150 }]]
    assertAnswered(await execute(gateway.base, calls), calls, gateway.lines, { id: 'call_fault', ok: true, output: { rows: [1, 2] } })
    await assertStillServing(gateway)
  })
})

interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

interface Upstream {
  url: string
  received: Received[]
  /** Connections open now. */
  open: () => number
}

/** A real local HTTP server standing for a tool's endpoint, answering every request with `answer`. */
async function upstream(
  t: TestContext,
  answer: (request: IncomingMessage, response: ServerResponse, received: Received) => void,
): Promise<Upstream> {
  const received: Received[] = []
  let open = 0
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body }
      received.push(entry)
      answer(request, response, entry)
    })
  })
  server.on('connection', (socket) => {
    open++
    socket.on('close', () => open--)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, received, open: () => open }
}

const token = 'faults-token-3c9a7e'

/** A gateway whose config file declares `lookup`, POSTing to `url`, next to the built-in tools. */
async function httpGateway(t: TestContext, url: string, limits: string): Promise<Gateway> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-faults-')), 'tools.yaml')
  await writeFile(
    file,
    `tools:
  - name: lookup
    description: Look up an order by its id.
    parameters: { type: object, properties: { order_id: { type: string } }, required: [order_id], additionalProperties: false }
    http:
      url: ${url}
      headers: { Authorization: "Bearer \${FAULTS_TOKEN}", X-Api-Key: "\${FAULTS_TOKEN}" }
${limits}`,
  )
  process.env.FAULTS_TOKEN = token
  t.after(() => {
    delete process.env.FAULTS_TOKEN
  })
  const { logger, lines } = captureLogs('debug')
  const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file }, logger, random: () => 0 })
  return { app, base: await listen(app), lines }
}

const lookup: CallSpec = ['call_lookup', 'lookup', { order_id: 'ord_1' }]

/** Sends `lookup` between two healthy calls and checks the whole contract; the reply's lookup result. */
async function injectHttpFault(gateway: Gateway, expected: { code: CallErrorCode; message: RegExp }) {
  const settled = watchUnhandled()
  const calls = around(lookup)
  const sent = await execute(gateway.base, calls)
  assertAnswered(sent, calls, gateway.lines, { id: 'call_lookup', ...expected })
  await assertStillServing(gateway)
  settled()
  const result = sent.reply.results[1]
  assert.ok(result)
  assert.ok(!JSON.stringify(sent.reply).includes(token), 'the secret stays out of the reply')
  return result
}

const retried = '    idempotent: true\n    timeoutMs: 3000\n    retries: 2\n'

describe('faults of HTTP-tool upstreams', () => {
  it('answers tool_error for an upstream that resets the connection mid-body', async (t) => {
    const server = await upstream(t, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"order_id":"ord_1","sta')
      setTimeout(() => response.socket?.destroy(), 10)
    })
    const gateway = await httpGateway(t, server.url, '    timeoutMs: 3000\n')
    await injectHttpFault(gateway, { code: 'tool_error', message: /\S/ })
  })

  it('answers tool_error for an upstream whose body is shorter than its Content-Length', async (t) => {
    const server = await upstream(t, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' })
      response.write('{"order_id":"ord_1"}')
      setTimeout(() => response.socket?.end(), 10)
    })
    const gateway = await httpGateway(t, server.url, '    timeoutMs: 3000\n')
    await injectHttpFault(gateway, { code: 'tool_error', message: /\S/ })
  })

  it('names the endpoint, and retries an idempotent tool, when the connection drops mid-body', async (t) => {
    const server = await upstream(t, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"order_id":"ord_1","sta')
      setTimeout(() => response.socket?.destroy(), 10)
    })
    const gateway = await httpGateway(t, server.url, retried)
    const result = await injectHttpFault(gateway, { code: 'tool_error', message: /^lookup's endpoint .*(closed|reset|dropped|terminated)/ })
    assert.equal(result.attempts, 3)
    assert.equal(server.received.length, 3)
  })

  it('answers timeout at the deadline for an upstream that drips its body byte by byte, and hangs up on it', async (t) => {
    let writes = 0
    const server = await upstream(t, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      const body = `{"order_id":"ord_1","notes":"${'x'.repeat(500)}"}`
      const timer = setInterval(() => {
        response.write(body.charAt(writes++))
      }, 40)
      response.on('close', () => {
        clearInterval(timer)
      })
    })
    const gateway = await httpGateway(t, server.url, '    timeoutMs: 300\n')
    await injectHttpFault(gateway, { code: 'timeout', message: /^lookup did not finish within its deadline of 300 ms$/ })
    assert.ok(writes > 0, 'the upstream had started answering')
    await waitFor(() => server.open() === 0, 'the gateway to close the dripping connection')
  })

  const garbage: Array<[string, string]> = [
    ['a non-JSON body with a JSON content type', '<html><body>502 Bad Gateway</body></html>'],
    ['truncated JSON', '{"order_id":"ord_1","status":"shipp'],
    ['bytes that are not UTF-8 text', '\u00ff\u00fe\u0000\u0001'],
  ]
  for (const [what, body] of garbage) {
    it(`answers tool_error, without retrying, for an upstream that sends ${what}`, async (t) => {
      const server = await upstream(t, (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from(body, 'latin1'))
      })
      const gateway = await httpGateway(t, server.url, retried)
      const result = await injectHttpFault(gateway, {
        code: 'tool_error',
        message: /^lookup's endpoint answered a body that is not valid JSON$/,
      })
      assert.equal(result.attempts, 1)
      assert.equal(server.received.length, 1)
    })
  }

  it('answers tool_error, without following or retrying, for an upstream that redirects to itself', async (t) => {
    const server = await upstream(t, (request, response) => {
      response.writeHead(302, { location: request.url ?? '/' }).end()
    })
    const gateway = await httpGateway(t, `${server.url}/orders`, retried)
    const result = await injectHttpFault(gateway, {
      code: 'tool_error',
      message: /^lookup's endpoint answered a redirect \(HTTP 302\) to \/orders; toolgate does not follow redirects/,
    })
    assert.equal(result.attempts, 1)
    assert.equal(server.received.length, 1)
  })

  // A redirect would carry the arguments and the configured headers (secrets) to a host the
  // configuration never named: it is refused, and the other host receives nothing.
  for (const status of [307, 302] as const) {
    it(`refuses an HTTP ${String(status)} redirect to another server: nothing reaches it`, async (t) => {
      const other = await upstream(t, (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"answered_by":"other"}')
      })
      const server = await upstream(t, (_request, response) => {
        response.writeHead(status, { location: `${other.url}/steal` }).end()
      })
      const gateway = await httpGateway(t, `${server.url}/orders`, retried)
      const result = await injectHttpFault(gateway, {
        code: 'tool_error',
        message: new RegExp(`answered a redirect \\(HTTP ${String(status)}\\) to ${other.url}/steal`),
      })
      assert.equal(result.attempts, 1)
      assert.equal(other.received.length, 0)
    })
  }

  it('retries an idempotent tool on HTTP 500 up to its retries, then answers tool_error', async (t) => {
    const server = await upstream(t, (_request, response) => {
      response.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"database down"}')
    })
    const gateway = await httpGateway(t, server.url, retried)
    const result = await injectHttpFault(gateway, { code: 'tool_error', message: /^lookup's endpoint answered HTTP 500$/ })
    assert.equal(result.attempts, 3)
    assert.equal(server.received.length, 3)
    // Every attempt carries the same call id and idempotency key, so the endpoint can deduplicate.
    assert.equal(new Set(server.received.map((request) => request.headers['idempotency-key'])).size, 1)
    assert.deepEqual(new Set(server.received.map((request) => request.headers['x-toolgate-call-id'])), new Set(['call_lookup']))
  })

  it('does not retry an HTTP 503 whose Retry-After falls past the deadline', async (t) => {
    const server = await upstream(t, (_request, response) => {
      response.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '60' }).end('maintenance')
    })
    const gateway = await httpGateway(t, server.url, retried)
    const result = await injectHttpFault(gateway, { code: 'tool_error', message: /^lookup's endpoint answered HTTP 503$/ })
    assert.equal(result.attempts, 1)
    assert.equal(server.received.length, 1)
  })

  it('retries an idempotent tool whose upstream closes the connection without answering, then answers tool_error', async (t) => {
    const server = await upstream(t, (request) => {
      request.socket.destroy()
    })
    const gateway = await httpGateway(t, server.url, retried)
    const result = await injectHttpFault(gateway, { code: 'tool_error', message: /^lookup's endpoint is unreachable: \S/ })
    assert.equal(result.attempts, 3)
    assert.equal(server.received.length, 3)
  })
})

const mcpFixture = new URL('./fixtures/mcp-faulty-server.ts', import.meta.url).pathname

/** A gateway with the faulty MCP server `dying`; its log of starts and a marker that makes restarts fail. */
async function mcpGateway(t: TestContext, args: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-faults-mcp-'))
  const logFile = join(dir, 'server.log')
  const exitMarker = join(dir, 'exit-at-start')
  const file = join(dir, 'tools.yaml')
  await writeFile(
    file,
    `mcp:
  - name: dying
    command: ${process.execPath}
    args: ${JSON.stringify([mcpFixture, ...args])}
    env: { FAULT_LOG: ${JSON.stringify(logFile)}, FAULT_EXIT_IF_EXISTS: ${JSON.stringify(exitMarker)} }
    timeoutMs: 5000
`,
  )
  const events = async (kind: 'start' | 'hang') =>
    (await readFile(logFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line.startsWith(`${kind} `))
      .map((line) => Number(line.split(' ')[1]))
  return { file, exitMarker, events }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Polls an async condition (a file read) until it holds. */
async function waitForAsync(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`)
    await delay(10)
  }
}

describe('faults of MCP servers', () => {
  it('answers tool_error for a call in flight when its stdio server is killed, and reconnects', async (t) => {
    const settled = watchUnhandled()
    const server = await mcpGateway(t)
    const { logger, lines } = captureLogs('debug')
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: server.file }, logger })
    const gateway = { app, base: await listen(app), lines }
    const calls = around(['call_mcp', 'dying__hang', {}])
    const pending = execute(gateway.base, calls)
    let pid = 0
    await waitForAsync(async () => (pid = (await server.events('hang'))[0] ?? 0) > 0, 'the call to reach the MCP server')
    process.kill(pid, 'SIGKILL')
    assertAnswered(await pending, calls, lines, {
      id: 'call_mcp',
      code: 'tool_error',
      message: /^the MCP server dying failed the call: .*Connection closed/,
    })
    await waitFor(() => !isAlive(pid), 'the killed server to be gone')
    await assertStillServing(gateway)
    // It is started again, and its tools serve again.
    await waitFor(
      () => app.toolSources.mcpServers[0]?.connected === true && app.registry.get('dying__add') !== undefined,
      'the server to come back',
      10_000,
    )
    const again = await execute(gateway.base, around(['call_add', 'dying__add', { a: 1, b: 2 }]))
    assert.deepEqual(
      again.reply.results.map((result) => [result.id, result.ok]),
      [
        ['call_before', true],
        ['call_add', true],
        ['call_after', true],
      ],
    )
    // An MCP tool's output is its whole result.
    assert.deepEqual(again.reply.results[1]?.output, { content: [{ type: 'text', text: '3' }] })
    assert.equal((await server.events('start')).length, 2)
    settled()
  })

  it('refuses to start, without leaving anything behind, when an MCP server exits at start', async (t) => {
    const server = await mcpGateway(t, ['--exit-at-start'])
    await assert.rejects(buildApp(testConfig({ TOOLGATE_CONFIG: server.file })), (error: unknown) => {
      assert.ok(error instanceof ConfigFileError, String(error))
      assert.match(error.message, /MCP server dying \(.*Connection closed\) could not be reached/)
      assert.doesNotMatch(error.message, /\n\s+at /)
      return true
    })
    const [pid] = await server.events('start')
    assert.ok(pid !== undefined)
    await waitFor(() => !isAlive(pid), 'the server process to be gone')
    // No reconnection timer survives the refusal (the first one would fire after 500 ms).
    await delay(700)
    assert.equal((await server.events('start')).length, 1)
  })

  it('answers unknown_tool for the tools of a server that exits at every restart, and serves them again once it starts', async (t) => {
    const settled = watchUnhandled()
    const server = await mcpGateway(t)
    const { logger, lines } = captureLogs('debug')
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: server.file }, logger })
    const gateway = { app, base: await listen(app), lines }
    const [pid = 0] = await server.events('start')
    await writeFile(server.exitMarker, '')
    process.kill(pid, 'SIGKILL')
    await waitFor(() => app.toolSources.mcpServers[0]?.connected === false, 'the gateway to see the server gone')
    await waitForAsync(async () => (await server.events('start')).length >= 2, 'a restart that exits at start')
    const calls = around(['call_add', 'dying__add', { a: 1, b: 2 }])
    assertAnswered(await execute(gateway.base, calls), calls, lines, {
      id: 'call_add',
      code: 'unknown_tool',
      message: /^there is no tool named "dying__add"\. Tools: get_time, get_date, get_weather\.$/,
    })
    await assertStillServing(gateway)
    const ready = (await fetch(`${gateway.base}/readyz`)).json() as Promise<{ mcp: unknown }>
    assert.deepEqual((await ready).mcp, [{ name: 'dying', connected: false }])
    await rm(server.exitMarker)
    await waitFor(() => app.registry.get('dying__add') !== undefined, 'the server to start again', 10_000)
    assert.deepEqual((await execute(gateway.base, [['call_add', 'dying__add', { a: 2, b: 2 }]])).reply.results[0]?.output, {
      content: [{ type: 'text', text: '4' }],
    })
    settled()
  })
})
