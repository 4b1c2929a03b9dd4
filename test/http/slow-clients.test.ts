import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { buildTestApp, chatCompletion, listen } from '../helpers/app.ts'
import { sleepTool } from '../helpers/tools.ts'

const limits = { TOOLGATE_HEADERS_TIMEOUT_MS: '300', TOOLGATE_REQUEST_TIMEOUT_MS: '600', TOOLGATE_KEEP_ALIVE_TIMEOUT_MS: '300' }

/** A raw TCP client: what it received and when the server closed the connection. */
async function open(base: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { port } = new URL(base)
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const opened = performance.now()
  let text = ''
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
  socket.on('error', () => undefined)
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      resolve(performance.now() - opened)
    }),
  )
  return { socket, received: () => text, closed }
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
async function drip(socket: Socket, text: string, everyMs: number): Promise<number> {
  let sent = 0
  for (const byte of text) {
    if (socket.destroyed || !socket.writable) break
    socket.write(byte)
    sent++
    await delay(everyMs)
  }
  return sent
}

function assertTimeoutAnswer(answer: string) {
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } }
  assert.equal(body.error.code, 'request_timeout')
  assert.match(body.error.message, /headers within 300 ms, the whole request within 600 ms/)
}

describe('slow clients', () => {
  it('answers 408 and closes a connection that sends its headers too slowly', async (t) => {
    const base = await listen(await buildTestApp(t, { env: limits }))
    const client = await open(base)
    const sent = drip(client.socket, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(200) + '\r\n\r\n', 20)
    const closedAfterMs = await client.closed
    assert.ok((await sent) < 200, 'the server cut the client before it finished its headers')
    assertTimeoutAnswer(client.received())
    // Cut within the limit plus the 300 ms check interval, with room for a slow machine; Node's default would let it drip on.
    assert.ok(closedAfterMs < 5_000, `closed after ${String(Math.round(closedAfterMs))} ms`)
  })

  it('answers 408 to a body dripped slower than the request timeout, and the route never runs', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool], env: limits })
    const base = await listen(app)
    const client = await open(base)
    const body = JSON.stringify(chatCompletion([['call_1', 'sleep', { ms: 0 }]]))
    client.socket.write(
      `POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${String(body.length)}\r\n\r\n`,
    )
    const sent = drip(client.socket, body, 10)
    await client.closed
    assert.ok((await sent) < body.length, 'the server cut the body before it was complete')
    assertTimeoutAnswer(client.received())
    const metrics = await (await fetch(`${base}/metrics`)).text()
    assert.doesNotMatch(metrics, /toolgate_calls_total\{/, 'no call ran')
  })

  it('closes a connection that never sends a byte', async (t) => {
    const base = await listen(await buildTestApp(t, { env: limits }))
    const client = await open(base)
    const closedAfterMs = await client.closed
    assert.ok(closedAfterMs < 5_000)
  })

  it('closes an idle keep-alive connection after TOOLGATE_KEEP_ALIVE_TIMEOUT_MS', async (t) => {
    const base = await listen(await buildTestApp(t, { env: limits }))
    const client = await open(base)
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    const closedAfterMs = await client.closed
    assert.match(client.received(), /^HTTP\/1\.1 200 OK\r\n/)
    assert.match(client.received(), /keep-alive/i)
    // 300 ms here; Fastify's default would hold the idle connection for 72 s.
    assert.ok(closedAfterMs < 5_000, `closed after ${String(Math.round(closedAfterMs))} ms`)
  })

  it('does not count the time the calls run against the request timeout', async (t) => {
    const base = await listen(await buildTestApp(t, { tools: [sleepTool], env: limits }))
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatCompletion([['call_1', 'sleep', { ms: 1_500 }]])),
    })
    assert.equal(response.status, 200)
    assert.equal(((await response.json()) as { status: string }).status, 'complete')
  })
})
