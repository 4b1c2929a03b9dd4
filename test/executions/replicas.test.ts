// Several real toolgate processes sharing one real Redis (the test's own redis-server), running
// HTTP tools against a local upstream that counts every side effect: the guarantees of
// Idempotency-Key across replicas, replica death, rate limits and the loss of Redis.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import { startServer, type RunningServer } from '../helpers/server-process.ts'

interface Upstream {
  url: string
  /** Side effects by `<tool>:<tag>`. */
  count: (key: string) => number
}

/** POST /effect/<tool> with `{ tag, ms }`: counts the effect when the request arrives, answers after `ms`. */
async function startUpstream(t: TestContext): Promise<Upstream> {
  const counts = new Map<string, number>()
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const tool = (request.url ?? '').split('/').at(-1) ?? ''
      const { tag, ms = 0 } = JSON.parse(body || '{}') as { tag: string; ms?: number }
      const key = `${tool}:${tag}`
      const count = (counts.get(key) ?? 0) + 1
      counts.set(key, count)
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tool, tag, count }))
      }, ms)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, count: (key) => counts.get(key) ?? 0 }
}

/** `charge` may not run twice; `lookup` is marked idempotent. */
async function toolsFile(upstream: Upstream): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-replicas-')), 'tools.yaml')
  const parameters =
    '{ type: object, properties: { tag: { type: string }, ms: { type: integer } }, required: [tag], additionalProperties: false }'
  await writeFile(
    file,
    `tools:
  - name: charge
    description: Charges a card (not idempotent).
    parameters: ${parameters}
    http: { url: ${upstream.url}/effect/charge }
    timeoutMs: 20000
  - name: lookup
    description: Looks something up (idempotent).
    parameters: ${parameters}
    http: { url: ${upstream.url}/effect/lookup }
    idempotent: true
    timeoutMs: 20000
`,
  )
  return file
}

interface Cluster {
  redis: TestRedis
  upstream: Upstream
  replicas: RunningServer[]
}

async function cluster(t: TestContext, count: number, env: Record<string, string> = {}): Promise<Cluster | undefined> {
  const redis = await startRedis(t)
  if (redis === undefined) return undefined
  const upstream = await startUpstream(t)
  const config = await toolsFile(upstream)
  const replicas = await Promise.all(
    Array.from({ length: count }, () =>
      startServer(t, {
        LOG_LEVEL: 'warn',
        TOOLGATE_CONFIG: config,
        TOOLGATE_REDIS_URL: redis.url,
        TOOLGATE_REPLICA_LEASE_MS: '600',
        ...env,
      }),
    ),
  )
  // Each replica has connected to Redis before the scenario starts.
  for (const replica of replicas) await until(async () => (await readiness(replica)).state?.up === true, 'a replica connected to Redis')
  return { redis, upstream, replicas }
}

type Call = [id: string, tool: 'charge' | 'lookup', tag: string, ms: number]

function body(calls: Call[]): string {
  return JSON.stringify({
    role: 'assistant',
    content: null,
    tool_calls: calls.map(([id, name, tag, ms]) => ({ id, type: 'function', function: { name, arguments: JSON.stringify({ tag, ms }) } })),
  })
}

interface Reply {
  status: string
  results: Array<{ id: string; ok: boolean; output?: { count: number }; error?: { code: string } }>
}

async function post(replica: RunningServer, calls: Call[], headers: Record<string, string>, signal?: AbortSignal) {
  const response = await fetch(`${replica.base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body(calls),
    signal,
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Reply & { error?: { code: string } } }
}

async function readiness(replica: RunningServer): Promise<{ state?: { up: boolean } }> {
  return fetch(`${replica.base}/readyz`).then(
    async (response) => (await response.json()) as { state?: { up: boolean } },
    () => ({}),
  )
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(50)
  }
}

function codes(reply: Reply): Record<string, string> {
  return Object.fromEntries(reply.results.map((result) => [result.id, result.ok ? 'ok' : (result.error?.code ?? '?')]))
}

describe('replicas sharing Redis', () => {
  it('a client that dropped its keyed batch on replica A gets it from replica B, each effect once', async (t) => {
    const setup = await cluster(t, 2)
    if (setup === undefined) return
    const [a, b] = setup.replicas as [RunningServer, RunningServer]
    const calls: Call[] = [
      ['c1', 'charge', 'drop', 1500],
      ['c2', 'lookup', 'drop', 100],
    ]
    const headers = { 'idempotency-key': 'drop-1' }
    const dropped = post(a, calls, headers, AbortSignal.timeout(200))
    await assert.rejects(dropped)
    const retry = await post(b, calls, headers)
    assert.equal(retry.status, 200)
    assert.deepEqual(codes(retry.json), { c1: 'ok', c2: 'ok' })
    await delay(300)
    assert.equal(setup.upstream.count('charge:drop'), 1)
    assert.equal(setup.upstream.count('lookup:drop'), 1)
    t.diagnostic(
      `2 replicas, 2 requests: charge ran ${String(setup.upstream.count('charge:drop'))}x (expected 1), lookup ${String(setup.upstream.count('lookup:drop'))}x (expected 1)`,
    )
  })

  it('after replica A is killed mid-call, B replays the finished call, reruns the idempotent one and answers the other outcome_unknown', async (t) => {
    const setup = await cluster(t, 2)
    if (setup === undefined) return
    const [a, b] = setup.replicas as [RunningServer, RunningServer]
    const calls: Call[] = [
      ['fast', 'charge', 'kill-fast', 0],
      ['slow', 'charge', 'kill-slow', 3000],
      ['read', 'lookup', 'kill-read', 3000],
    ]
    const headers = { 'idempotency-key': 'kill-1' }
    post(a, calls, headers).catch(() => undefined)
    await until(
      () => Promise.resolve(setup.upstream.count('charge:kill-slow') === 1 && setup.upstream.count('lookup:kill-read') === 1),
      'both slow calls upstream',
    )
    await delay(200)
    a.child.kill('SIGKILL')
    await a.exit
    const retry = await post(b, calls, headers)
    assert.equal(retry.status, 200)
    assert.deepEqual(codes(retry.json), { fast: 'ok', slow: 'outcome_unknown', read: 'ok' })
    assert.equal(setup.upstream.count('charge:kill-fast'), 1, 'the finished call is replayed, not run again')
    assert.equal(setup.upstream.count('charge:kill-slow'), 1, 'the call that may have happened is not run again')
    assert.equal(setup.upstream.count('lookup:kill-read'), 2, 'the idempotent call ran again')
    // A second retry answers the same, and runs nothing more.
    const again = await post(b, calls, headers)
    assert.deepEqual(again.json.results, retry.json.results)
    assert.equal(again.headers.get('idempotent-replayed'), 'true')
    assert.equal(setup.upstream.count('lookup:kill-read'), 2)
    t.diagnostic(
      `2 replicas, A killed: charge(fast) ${String(setup.upstream.count('charge:kill-fast'))}x (expected 1), charge(slow) ${String(setup.upstream.count('charge:kill-slow'))}x (expected 1, outcome_unknown), lookup ${String(setup.upstream.count('lookup:kill-read'))}x (expected 2: idempotent, run again)`,
    )
  })

  it('100 concurrent identical keyed requests over 3 replicas run each call once', async (t) => {
    const setup = await cluster(t, 3)
    if (setup === undefined) return
    const calls: Call[] = [
      ['c1', 'charge', 'crowd', 300],
      ['c2', 'lookup', 'crowd', 50],
    ]
    const headers = { 'idempotency-key': 'crowd-1' }
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, index) => post(setup.replicas[index % 3] as RunningServer, calls, headers)),
    )
    for (const reply of replies) {
      assert.equal(reply.status, 200)
      assert.deepEqual(codes(reply.json), { c1: 'ok', c2: 'ok' })
      assert.deepEqual(reply.json.results, replies[0]?.json.results)
    }
    assert.equal(setup.upstream.count('charge:crowd'), 1)
    assert.equal(setup.upstream.count('lookup:crowd'), 1)
    t.diagnostic(
      `3 replicas, 100 requests: charge ran ${String(setup.upstream.count('charge:crowd'))}x, lookup ${String(setup.upstream.count('lookup:crowd'))}x (expected 1 each)`,
    )
  })

  it('a per-key rate limit of N a minute holds across 3 replicas (N, not 3N)', async (t) => {
    const key = 'replicas-rate-key-0123456789'
    const setup = await cluster(t, 3, { TOOLGATE_API_KEYS: key, TOOLGATE_RATE_LIMIT_PER_MINUTE: '10' })
    if (setup === undefined) return
    const statuses = []
    for (let index = 0; index < 30; index++) {
      const replica = setup.replicas[index % 3] as RunningServer
      const response = await fetch(`${replica.base}/tools`, { headers: { authorization: `Bearer ${key}` } })
      await response.arrayBuffer()
      statuses.push(response.status)
    }
    assert.equal(statuses.filter((status) => status === 200).length, 10)
    assert.equal(statuses.filter((status) => status === 429).length, 20)
    t.diagnostic('3 replicas, limit 10/min, 30 requests: 10 answered, 20 refused 429')
  })

  it('Redis lost under load: keyed requests are refused and never run, others run, nobody crashes; Redis back: served again', async (t) => {
    const setup = await cluster(t, 2)
    if (setup === undefined) return
    const [a, b] = setup.replicas as [RunningServer, RunningServer]
    const loading = { stop: false }
    let sent = 0
    const load = (async () => {
      while (!loading.stop) {
        sent++
        await post(sent % 2 === 0 ? a : b, [['u', 'lookup', 'load', 0]], {}).catch(() => undefined)
      }
    })()
    await setup.redis.stop()
    await until(async () => (await readiness(a)).state?.up === false, 'replica A to see Redis down')
    const keyed = await post(a, [['k', 'charge', 'while-down', 0]], { 'idempotency-key': 'down-1' })
    assert.equal(keyed.status, 503)
    assert.equal(keyed.json.error?.code, 'state_unavailable')
    const unkeyed = await post(b, [['u', 'lookup', 'while-down', 0]], {})
    assert.equal(unkeyed.status, 200)
    assert.deepEqual(codes(unkeyed.json), { u: 'ok' })
    assert.equal(setup.upstream.count('charge:while-down'), 0, 'a refused keyed call never ran')
    const metrics = await (await fetch(`${a.base}/metrics`)).text()
    assert.match(metrics, /toolgate_state_store_up\{store="redis"\} 0/)
    await setup.redis.start()
    await until(
      async () => (await post(a, [['k', 'charge', 'back', 0]], { 'idempotency-key': 'back-1' })).status === 200,
      'keyed requests served again',
    )
    assert.match(await (await fetch(`${a.base}/metrics`)).text(), /toolgate_state_store_up\{store="redis"\} 1/)
    loading.stop = true
    await load
    assert.equal(a.child.exitCode, null)
    assert.equal(b.child.exitCode, null)
    assert.equal(setup.upstream.count('charge:back'), 1)
    t.diagnostic(
      `2 replicas, Redis stopped and restarted under ${String(sent)} unkeyed requests: keyed refused 503 while down, 0 effects; served again after`,
    )
  })

  it('a batch answered early on replica A is read, pending then complete, on replica B', async (t) => {
    const setup = await cluster(t, 2)
    if (setup === undefined) return
    const [a, b] = setup.replicas as [RunningServer, RunningServer]
    const early = await post(
      a,
      [
        ['slow', 'lookup', 'late', 2500],
        ['fast', 'lookup', 'early', 0],
      ],
      { prefer: 'wait=1' },
    )
    assert.equal(early.status, 200)
    assert.equal(early.json.status, 'pending')
    assert.deepEqual(codes(early.json), { slow: 'pending', fast: 'ok' })
    const location = early.headers.get('location')
    assert.ok(location?.startsWith('/executions/'))
    const pending = (await (await fetch(`${b.base}${location}`)).json()) as Reply
    assert.equal(pending.status, 'pending')
    await until(async () => ((await (await fetch(`${b.base}${location}`)).json()) as Reply).status === 'complete', 'the batch to complete')
    const final = (await (await fetch(`${b.base}${location}`)).json()) as Reply
    assert.deepEqual(codes(final), { slow: 'ok', fast: 'ok' })
    assert.equal(setup.upstream.count('lookup:late'), 1)
  })
})
