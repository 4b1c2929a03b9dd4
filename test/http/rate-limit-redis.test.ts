// Per-key rate limits counted on one shared Redis (the test's own redis-server) by three real
// toolgate processes: a key gets its N requests a minute across the replicas, not N per replica;
// while Redis is down TOOLGATE_REDIS_DOWN_POLICY decides (run: through uncounted, refuse: 503
// state_unavailable), no replica crashes, and once Redis is back the limits are counted again.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import { startServer, type RunningServer } from '../helpers/server-process.ts'

/** Each scenario starts three processes and a redis-server. */
const timeout = 60_000

const alpha = { name: 'alpha', key: 'rate-limit-redis-alpha-0123456789', limit: 7 }
const beta = { name: 'beta', key: 'rate-limit-redis-beta-0123456789', limit: 4 }

interface Cluster {
  redis: TestRedis
  /** TOOLGATE_REDIS_PREFIX of this test's replicas. */
  prefix: string
  replicas: RunningServer[]
}

/** Three replicas on one Redis, keys alpha and beta from a keys file, each with its own limit a minute. */
async function cluster(t: TestContext, env: Record<string, string> = {}): Promise<Cluster | undefined> {
  const redis = await startRedis(t)
  if (redis === undefined) return undefined
  const keysFile = join(await mkdtemp(join(tmpdir(), 'toolgate-rate-limit-redis-')), 'keys.yaml')
  await writeFile(
    keysFile,
    `keys:\n${[alpha, beta].map(({ name, key, limit }) => `  - { name: ${name}, key: ${key}, rateLimitPerMinute: ${String(limit)} }`).join('\n')}\n`,
  )
  const prefix = `toolgate-test-${randomUUID().slice(0, 8)}:`
  const replicas = await Promise.all(
    Array.from({ length: 3 }, () =>
      startServer(t, {
        LOG_LEVEL: 'warn',
        TOOLGATE_API_KEYS_FILE: keysFile,
        TOOLGATE_REDIS_URL: redis.url,
        TOOLGATE_REDIS_PREFIX: prefix,
        ...env,
      }),
    ),
  )
  for (const replica of replicas) await untilConnected(replica)
  return { redis, prefix, replicas }
}

/**
 * Until the replica's Redis client is connected (or, `up` false, has lost its connection), as its
 * /readyz says: `state.up`, or with TOOLGATE_REDIS_DOWN_POLICY=refuse a 503 state_unavailable while down.
 */
async function untilConnected(replica: RunningServer, up = true): Promise<void> {
  await until(
    async () => {
      const seen = await fetch(`${replica.base}/readyz`).then(
        async (response) => {
          const body = (await response.json()) as { state?: { up?: boolean }; error?: { code?: string } }
          return response.status === 503 && body.error?.code === 'state_unavailable' ? false : body.state?.up
        },
        () => undefined,
      )
      return seen === up
    },
    `a replica to see Redis ${up ? 'up' : 'down'}`,
  )
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(50)
  }
}

interface Answer {
  status: number
  code: string | undefined
  retryAfter: string | null
}

/** GET /tools (a rate-limited route that needs nothing else of Redis) as the key, on one replica. */
async function list(replica: RunningServer, key: string): Promise<Answer> {
  const response = await fetch(`${replica.base}/tools`, { headers: { authorization: `Bearer ${key}` } })
  const body = (await response.json()) as { error?: { code?: string } }
  return { status: response.status, code: body.error?.code, retryAfter: response.headers.get('retry-after') }
}

/** `count` requests, round-robin over the replicas: one after another, or all at once. */
async function roundRobin(setup: Cluster, key: string, count: number, all = false): Promise<Answer[]> {
  const send = (index: number) => list(setup.replicas[index % setup.replicas.length] as RunningServer, key)
  if (all) return Promise.all(Array.from({ length: count }, (_, index) => send(index)))
  const answers = []
  for (let index = 0; index < count; index++) answers.push(await send(index))
  return answers
}

/** How many answers had each status (and error code). */
function tally(answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const { status, code } of answers) {
    const name = code === undefined ? String(status) : `${String(status)} ${code}`
    counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

/** Exactly `limit` of the answers 200, every other one 429 rate_limited with Retry-After. */
function assertLimited(answers: Answer[], limit: number, what: string): void {
  assert.deepEqual(tally(answers), { '200': limit, '429 rate_limited': answers.length - limit }, what)
  for (const answer of answers.filter(({ status }) => status === 429)) assert.ok(Number(answer.retryAfter) >= 1, 'a 429 has Retry-After')
}

async function redisKeys(setup: Cluster): Promise<Record<string, { count: string | null; ttlMs: number }>> {
  const client = new Redis(setup.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await client.connect()
    const keys = await client.keys('*')
    const entries = await Promise.all(
      keys.map(async (key) => [key, { count: await client.get(key), ttlMs: await client.pttl(key) }] as const),
    )
    return Object.fromEntries(entries)
  } finally {
    client.disconnect()
  }
}

/** Every replica still runs and answers its liveness probe (never rate-limited, never needs Redis). */
async function assertAlive(setup: Cluster): Promise<void> {
  for (const replica of setup.replicas) {
    assert.equal(replica.child.exitCode, null, `a replica exited: ${replica.output()}`)
    assert.equal((await fetch(`${replica.base}/healthz`)).status, 200)
  }
}

/**
 * Redis stopped (SIGKILL), and every replica has noticed: lost its connection, and failed to
 * connect again, which it logs (its log is buffered: the line comes within a quarter of a second).
 */
async function loseRedis(setup: Cluster): Promise<void> {
  await setup.redis.stop()
  for (const replica of setup.replicas) {
    await untilConnected(replica, false)
    await until(() => Promise.resolve(/Redis connection failed/.test(replica.output())), 'a replica to log that Redis failed')
  }
}

/** Redis back (empty), and every replica connected again. */
async function restoreRedis(setup: Cluster): Promise<number> {
  const started = performance.now()
  await setup.redis.start()
  for (const replica of setup.replicas) await untilConnected(replica)
  return Math.round(performance.now() - started)
}

/** A replica logs a Redis failure at most once every 10 s, however many requests failed on it; never an unhandled error. */
function assertQuietLogs(setup: Cluster): void {
  for (const replica of setup.replicas) {
    const failures = replica.output().match(/Redis connection failed/g)?.length ?? 0
    assert.ok(failures >= 1 && failures <= 2, `a replica logged ${String(failures)} Redis failures: ${replica.output()}`)
    assert.doesNotMatch(replica.output(), /Unhandled error event|uncaught|"level":60/i)
  }
}

describe('rate limits counted on a shared Redis', { timeout }, () => {
  it('a key limited to N a minute gets N requests across 3 replicas, not 3N; each key its own count', async (t) => {
    const setup = await cluster(t)
    if (setup === undefined) return
    const started = performance.now()
    // One after another, round-robin: alpha's 7 are answered wherever they land, then refused everywhere.
    assertLimited(await roundRobin(setup, alpha.key, 3 * alpha.limit), alpha.limit, 'alpha, 21 requests one by one over 3 replicas')
    // All at once: the count is atomic on Redis, so no replica lets one more through in a race.
    assertLimited(await roundRobin(setup, beta.key, 30, true), beta.limit, 'beta, 30 requests at once over 3 replicas')
    const ms = Math.round(performance.now() - started)
    // The counts live under the deployment's prefix, one key per API key, expiring with their minute.
    const keys = await redisKeys(setup)
    assert.deepEqual(
      Object.keys(keys).filter((key) => !key.startsWith(setup.prefix)),
      [],
      'every key starts with TOOLGATE_REDIS_PREFIX',
    )
    const counts = Object.keys(keys).filter((key) => key.startsWith(`${setup.prefix}rate-limit:`))
    assert.deepEqual(counts.sort(), [`${setup.prefix}rate-limit:key:alpha`, `${setup.prefix}rate-limit:key:beta`])
    assert.equal(keys[`${setup.prefix}rate-limit:key:alpha`]?.count, '21')
    assert.equal(keys[`${setup.prefix}rate-limit:key:beta`]?.count, '30')
    for (const ttlMs of counts.map((key) => keys[key]?.ttlMs ?? 0))
      assert.ok(ttlMs > 0 && ttlMs <= 60_000, `the count expires within its minute (${String(ttlMs)} ms)`)
    await assertAlive(setup)
    t.diagnostic(
      `3 replicas, alpha 7/min: 21 sequential -> 7 x 200, 14 x 429; beta 4/min: 30 concurrent -> 4 x 200, 26 x 429 (${String(ms)} ms)`,
    )
  })

  it('TOOLGATE_REDIS_DOWN_POLICY=run: with Redis down requests pass uncounted and nothing crashes; Redis back: counted again', async (t) => {
    const setup = await cluster(t, { TOOLGATE_REDIS_DOWN_POLICY: 'run' })
    if (setup === undefined) return
    assertLimited(await roundRobin(setup, alpha.key, alpha.limit + 2), alpha.limit, 'alpha used up')

    await loseRedis(setup)
    // alpha had used its minute; its count is unreachable, so its requests are not refused (nor is anyone's).
    const down = [...(await roundRobin(setup, alpha.key, 3 * alpha.limit)), ...(await roundRobin(setup, beta.key, 30, true))]
    assert.deepEqual(tally(down), { '200': down.length }, 'every request passes while Redis is down')
    await assertAlive(setup)

    const recoveredMs = await restoreRedis(setup)
    // The restarted Redis is empty: each key has its whole minute again, counted across the replicas.
    assertLimited(await roundRobin(setup, alpha.key, 3 * alpha.limit), alpha.limit, 'alpha after Redis came back')
    assertLimited(await roundRobin(setup, beta.key, 20, true), beta.limit, 'beta after Redis came back')
    await assertAlive(setup)
    assertQuietLogs(setup)
    t.diagnostic(
      `policy run: Redis down -> ${String(down.length)} requests, all 200; back in ${String(recoveredMs)} ms -> limits of 7 and 4 held again`,
    )
  })

  it('TOOLGATE_REDIS_DOWN_POLICY=refuse: with Redis down requests get 503 state_unavailable, not 500; Redis back: counted again', async (t) => {
    const setup = await cluster(t, { TOOLGATE_REDIS_DOWN_POLICY: 'refuse' })
    if (setup === undefined) return
    assertLimited(await roundRobin(setup, beta.key, beta.limit + 5), beta.limit, 'beta used up')
    assert.equal((await list(setup.replicas[0] as RunningServer, alpha.key)).status, 200)

    await loseRedis(setup)
    const down = [...(await roundRobin(setup, alpha.key, 12)), ...(await roundRobin(setup, beta.key, 12, true))]
    assert.deepEqual(tally(down), { '503 state_unavailable': down.length }, 'every counted request is refused while Redis is down')
    for (const answer of down) assert.equal(answer.retryAfter, '1')
    // What is never counted is still answered: probes and scrapes.
    await assertAlive(setup)

    const recoveredMs = await restoreRedis(setup)
    assertLimited(await roundRobin(setup, alpha.key, 3 * alpha.limit), alpha.limit, 'alpha after Redis came back')
    assertLimited(await roundRobin(setup, beta.key, 20, true), beta.limit, 'beta after Redis came back')
    await assertAlive(setup)
    assertQuietLogs(setup)
    t.diagnostic(
      `policy refuse: Redis down -> ${String(down.length)} requests, all 503 state_unavailable; back in ${String(recoveredMs)} ms -> limits held again`,
    )
  })
})
