import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { listenForHealthChecks } from '../../src/http/health-listener.ts'
import { buildTestApp, chatCompletion, listen, waitFor } from '../helpers/app.ts'
import { startServer } from '../helpers/server-process.ts'
import { sleepTool } from '../helpers/tools.ts'

const timeouts = { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 1_000 }

describe('the health listener (TOOLGATE_HEALTH_PORT)', () => {
  it('answers /healthz and /readyz as the main port does, and nothing else', async (t) => {
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS: 'a-key-of-sixteen-characters' } })
    await listen(app)
    const health = await listenForHealthChecks(app, { host: '127.0.0.1', port: 0 }, timeouts)
    t.after(() => health.close())

    const live = await fetch(`${health.url}/healthz`)
    assert.equal(live.status, 200)
    assert.deepEqual(await live.json(), { status: 'ok' })
    const ready = await fetch(`${health.url}/readyz?verbose=1`)
    assert.equal(ready.status, 200)
    assert.equal(((await ready.json()) as { status: string }).status, 'ready')
    assert.equal((await fetch(`${health.url}/readyz`, { method: 'HEAD' })).status, 200)

    // The work routes are not there, with or without the key; nor other methods on the probes.
    for (const [method, path] of [
      ['POST', '/execute'],
      ['GET', '/tools'],
      ['GET', '/metrics'],
      ['POST', '/healthz'],
      ['GET', '/healthz/../execute'],
    ] as const) {
      const response = await fetch(`${health.url}${path}`, { method, headers: { authorization: 'Bearer a-key-of-sixteen-characters' } })
      assert.equal(response.status, 404, `${method} ${path}`)
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found')
    }
  })

  it('keeps liveness up and turns readiness to 503 while the gateway drains', async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool] })
    const base = await listen(app)
    const health = await listenForHealthChecks(app, { host: '127.0.0.1', port: 0 }, timeouts)
    t.after(() => health.close())
    const inFlight = fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatCompletion([['call_slow', 'sleep', { ms: 500 }]])),
    })
    await waitFor(() => app.executor.stats.running === 1, 'the call to start')
    app.stopTakingWork()
    const closed = app.close()
    const ready = await fetch(`${health.url}/readyz`)
    assert.equal(ready.status, 503)
    assert.equal(((await ready.json()) as { error: { code: string } }).error.code, 'shutting_down')
    assert.equal((await fetch(`${health.url}/healthz`)).status, 200, 'liveness answers during the drain')
    assert.equal((await inFlight).status, 200)
    await closed
  })

  it('in the real process: the gateway on one loopback address, its probes on another, both closed at SIGTERM', async (t) => {
    // 127.0.0.2 stands for the pod's address: it is not the one the gateway listens on.
    const server = await startServer(t, { HOST: '127.0.0.1', TOOLGATE_HEALTH_HOST: '127.0.0.2', TOOLGATE_HEALTH_PORT: '0' })
    await waitFor(() => /health checks \(GET \/healthz, \/readyz\) listening/.test(server.output()), 'the health listener')
    const url = /"url":"(http:\/\/127\.0\.0\.2:\d+)"/.exec(server.output())?.[1]
    assert.ok(url, server.output())
    assert.equal((await fetch(`${url}/readyz`)).status, 200)
    assert.equal((await fetch(`${url}/execute`, { method: 'POST' })).status, 404)
    const port = new URL(url).port
    await assert.rejects(fetch(`http://127.0.0.2:${new URL(server.base).port}/healthz`), 'the gateway itself is on loopback 127.0.0.1 only')
    server.child.kill('SIGTERM')
    const [code] = await server.exit
    assert.equal(code, 0)
    await assert.rejects(fetch(`http://127.0.0.2:${port}/healthz`))
  })
})
