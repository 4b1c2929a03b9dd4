// The single-use records behind approval tokens, in both state stores: a key used by one holder is
// refused to another, released only by its holder, and forgotten once its time is up.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { MemoryStore } from '../../src/state/memory-store.ts'
import { closeRedisClient, createRedisClient, redisUp } from '../../src/state/redis-client.ts'
import { RedisStore } from '../../src/state/redis-store.ts'
import type { StateStore } from '../../src/state/state-store.ts'
import { waitFor } from '../helpers/app.ts'
import { startRedis } from '../helpers/redis.ts'

async function checkUses(store: StateStore): Promise<void> {
  const key = `approval:${randomUUID()}`
  assert.equal(await store.useOnce(key, 'request:a', 60_000), undefined)
  assert.equal(await store.useOnce(key, 'request:b', 60_000), 'request:a')
  assert.equal(await store.useOnce(key, 'request:a', 60_000), 'request:a')
  await store.releaseUse(key, 'request:b')
  assert.equal(await store.useOnce(key, 'request:b', 60_000), 'request:a', 'released by its holder only')
  await store.releaseUse(key, 'request:a')
  assert.equal(await store.useOnce(key, 'request:b', 60_000), undefined)

  const brief = `approval:${randomUUID()}`
  assert.equal(await store.useOnce(brief, 'request:a', 50), undefined)
  await delay(80)
  assert.equal(await store.useOnce(brief, 'request:b', 60_000), undefined, 'forgotten once expired')
}

describe('single-use records', () => {
  it('in memory', async () => {
    await checkUses(new MemoryStore({ maxEntries: 10, maxBytes: 10_000, ttlMs: 60_000 }))
  })

  it('in memory, never forgetting an unexpired use to make room: past the bound, new uses are refused', async () => {
    const store = new MemoryStore({ maxEntries: 10, maxBytes: 10_000, ttlMs: 60_000 })
    for (let index = 0; index < 10; index++) assert.equal(await store.useOnce(`k${String(index)}`, 'h', 60_000), undefined)
    await assert.rejects(store.useOnce('k10', 'h', 60_000), { name: 'StateUnavailableError' })
    assert.equal(await store.useOnce('k0', 'other', 60_000), 'h')
  })

  it('on Redis', async (t: TestContext) => {
    const redis = await startRedis(t)
    if (redis === undefined) return
    const client = createRedisClient(redis.url)
    t.after(() => closeRedisClient(client))
    await waitFor(() => redisUp(client), 'the client connected')
    await checkUses(new RedisStore(client, { prefix: `uses-${String(process.pid)}:`, ttlMs: 60_000 }))
  })
})
