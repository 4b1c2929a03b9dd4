// Idempotency-Key, Prefer: wait / respond-async and GET /executions on the embedded state (one
// process, memory), against the real server on a loopback port.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { ToolError } from '../../src/errors.ts'
import { defineTool, type Tool } from '../../src/tools/tool.ts'
import { assistantMessage, buildTestApp, listen, waitFor, type CallSpec } from '../helpers/app.ts'

const keyA = 'idempotency-key-a-0123456789'
const keyB = 'idempotency-key-b-0123456789'

/** Tools that count what they did: `effect` waits `ms`, `key` answers the call's own idempotency key. */
function countingTools() {
  const runs = new Map<string, number>()
  const finished = new Map<string, number>()
  const effect = defineTool({
    name: 'effect',
    description: 'Counts an effect under its tag, after ms.',
    inputSchema: z.object({ tag: z.string(), ms: z.number().default(0) }),
    execute: async ({ tag, ms }) => {
      runs.set(tag, (runs.get(tag) ?? 0) + 1)
      // Deliberately ignores its signal: only a cancellation by the gateway would stop it being counted.
      await delay(ms)
      finished.set(tag, (finished.get(tag) ?? 0) + 1)
      return { tag, run: runs.get(tag) }
    },
  })
  let failedOnce = false
  const seenKeys: Array<string | undefined> = []
  const key = defineTool({
    name: 'key',
    description: "Answers the call's idempotency key; fails its first attempt once, retryably.",
    inputSchema: z.object({ failFirst: z.boolean().default(false) }),
    retries: 1,
    execute: ({ failFirst }, context) => {
      seenKeys.push(context.idempotencyKey)
      if (failFirst && !failedOnce) {
        failedOnce = true
        throw new ToolError('try again', { retryable: true })
      }
      return { key: context.idempotencyKey ?? null }
    },
  })
  const tools: Tool[] = [effect, key]
  return { tools, runs: (tag: string) => runs.get(tag) ?? 0, finished: (tag: string) => finished.get(tag) ?? 0, seenKeys }
}

async function gateway(t: TestContext, env: Record<string, string> = {}) {
  const counting = countingTools()
  const app = await buildTestApp(t, { tools: counting.tools, env })
  return { ...counting, app, base: await listen(app) }
}

const effect = (id: string, tag: string, ms = 0): CallSpec => [id, 'effect', { tag, ms }]

async function post(base: string, calls: CallSpec[], headers: Record<string, string> = {}, signal?: AbortSignal) {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(assistantMessage(calls)),
    signal,
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Record<string, unknown> & Reply }
}

interface Reply {
  status: string
  messages: Array<{ content: string }>
  results: Array<{ id: string; ok: boolean; output?: { key?: string | null }; error?: { code: string; message: string } }>
  error?: { code: string; path?: string }
}

describe('Idempotency-Key (embedded state)', () => {
  it('answers a retry of a finished batch with the same bytes, marked a replay, running nothing again', async (t) => {
    const gw = await gateway(t)
    const calls = [effect('c1', 'replay', 20), effect('c2', 'replay-2')]
    const first = await post(gw.base, calls, { 'idempotency-key': 'replay-1' })
    const second = await post(gw.base, calls, { 'idempotency-key': '"replay-1"' })
    assert.equal(first.status, 200)
    assert.equal(second.text, first.text)
    assert.equal(first.headers.get('idempotent-replayed'), null)
    assert.equal(second.headers.get('idempotent-replayed'), 'true')
    assert.equal(second.headers.get('toolgate-execution-id'), first.headers.get('toolgate-execution-id'))
    assert.equal(gw.runs('replay'), 1)
    assert.equal(gw.runs('replay-2'), 1)
  })

  it('runs each call of 20 concurrent identical keyed requests once, and answers them all alike', async (t) => {
    const gw = await gateway(t)
    const calls = [effect('c1', 'crowd', 100), effect('c2', 'crowd-2')]
    const replies = await Promise.all(Array.from({ length: 20 }, () => post(gw.base, calls, { 'idempotency-key': 'crowd' })))
    for (const reply of replies) assert.deepEqual(reply.json.results, replies[0]?.json.results)
    assert.equal(gw.runs('crowd'), 1)
    assert.equal(gw.runs('crowd-2'), 1)
  })

  it("refuses a key reused with other calls (422), and keeps one caller's keys apart from another's", async (t) => {
    const gw = await gateway(t, { TOOLGATE_API_KEYS: `${keyA},${keyB}` })
    const as = (key: string) => ({ authorization: `Bearer ${key}`, 'idempotency-key': 'shared' })
    assert.equal((await post(gw.base, [effect('c1', 'scope')], as(keyA))).status, 200)
    const reused = await post(gw.base, [effect('c1', 'other')], as(keyA))
    assert.equal(reused.status, 422)
    assert.equal(reused.json.error?.code, 'idempotency_key_reused')
    assert.equal(gw.runs('other'), 0)
    assert.equal((await post(gw.base, [effect('c1', 'scope')], as(keyB))).status, 200)
    assert.equal(gw.runs('scope'), 2, 'the same key string of another API key is another batch')
  })

  it('lets a keyed batch finish when its client disconnects, for the retry; an unkeyed one is cancelled, and its retry runs again', async (t) => {
    const gw = await gateway(t)
    const keyed = [effect('c1', 'kept', 400)]
    await assert.rejects(post(gw.base, keyed, { 'idempotency-key': 'kept' }, AbortSignal.timeout(100)))
    await waitFor(() => gw.finished('kept') === 1, 'the keyed call to finish')
    const retry = await post(gw.base, keyed, { 'idempotency-key': 'kept' })
    assert.equal(retry.headers.get('idempotent-replayed'), 'true')
    assert.equal(retry.json.results[0]?.ok, true)
    assert.equal(gw.runs('kept'), 1)

    // Decided behaviour without a key: no de-duplication (call ids are not unique across clients).
    const unkeyed = [effect('c1', 'dropped', 400)]
    await assert.rejects(post(gw.base, unkeyed, {}, AbortSignal.timeout(100)))
    const again = await post(gw.base, unkeyed)
    assert.equal(again.json.results[0]?.ok, true)
    assert.equal(gw.runs('dropped'), 2)
  })

  it('waits for a batch still running under its key, or refuses to with 409 when asked not to wait', async (t) => {
    const gw = await gateway(t)
    const calls = [effect('c1', 'busy', 500)]
    const first = post(gw.base, calls, { 'idempotency-key': 'busy' })
    await waitFor(() => gw.runs('busy') === 1, 'the call to start')
    const impatient = await post(gw.base, calls, { 'idempotency-key': 'busy', prefer: 'wait=0' })
    assert.equal(impatient.status, 409)
    assert.equal(impatient.json.error?.code, 'execution_in_progress')
    assert.ok(Number(impatient.headers.get('retry-after')) >= 1)
    const joined = await post(gw.base, calls, { 'idempotency-key': 'busy' })
    assert.equal(joined.text, (await first).text)
    assert.equal(gw.runs('busy'), 1)
  })

  it('answers at the Prefer: wait deadline with the rest pending, readable at Location by its caller only', async (t) => {
    const gw = await gateway(t, { TOOLGATE_API_KEYS: `${keyA},${keyB}` })
    const auth = (key: string) => ({ authorization: `Bearer ${key}` })
    const early = await post(gw.base, [effect('slow', 'late', 2000), effect('fast', 'early')], { ...auth(keyA), prefer: 'wait=1' })
    assert.equal(early.status, 200)
    assert.equal(early.json.status, 'pending')
    assert.equal(early.headers.get('preference-applied'), 'wait=1')
    assert.deepEqual(
      early.json.results.map((result) => result.error?.code ?? 'ok'),
      ['pending', 'ok'],
    )
    assert.match(early.json.messages[0]?.content ?? '', /still running/)
    const location = early.headers.get('location') ?? ''
    assert.match(location, /^\/executions\/[0-9a-f-]{36}$/)
    const stranger = await fetch(`${gw.base}${location}`, { headers: auth(keyB) })
    assert.equal(stranger.status, 404)
    assert.equal(((await stranger.json()) as Reply).error?.code, 'execution_not_found')
    await waitFor(() => gw.finished('late') === 1, 'the slow call to finish', 10_000)
    const final = await fetch(`${gw.base}${location}`, { headers: auth(keyA) })
    const reply = (await final.json()) as Reply
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.results.map((result) => result.ok),
      [true, true],
    )
    assert.equal((await fetch(`${gw.base}/executions/unknown`, { headers: auth(keyA) })).status, 404)
  })

  it('answers Prefer: respond-async with 202 and Location at once', async (t) => {
    const gw = await gateway(t)
    const accepted = await post(gw.base, [effect('c1', 'async', 300)], { prefer: 'respond-async' })
    assert.equal(accepted.status, 202)
    assert.equal(accepted.json.status, 'pending')
    const location = accepted.headers.get('location') ?? ''
    let status = 'pending'
    for (let polls = 0; status === 'pending' && polls < 100; polls++) {
      await delay(50)
      status = ((await (await fetch(`${gw.base}${location}`)).json()) as Reply).status
    }
    assert.equal(status, 'complete')
    assert.equal(gw.runs('async'), 1)
  })

  it('refuses unusable keys (400 naming the header), and a streamed reply for a keyed batch', async (t) => {
    const gw = await gateway(t)
    for (const bad of ['""', 'x'.repeat(300), 'clé']) {
      const refused = await post(gw.base, [effect('c1', 'bad')], { 'idempotency-key': bad })
      assert.equal(refused.status, 400, bad)
      assert.equal(refused.json.error?.code, 'invalid_idempotency_key')
      assert.equal(refused.json.error.path, 'headers.idempotency-key')
    }
    const streamed = await post(gw.base, [effect('c1', 'bad')], { 'idempotency-key': 'stream', accept: 'application/x-ndjson' })
    assert.equal(streamed.status, 400)
    assert.equal(streamed.json.error?.path, 'headers.accept')
    assert.equal(gw.runs('bad'), 0)
  })

  it('gives each call its own key, the same on a retried attempt, and none without an Idempotency-Key', async (t) => {
    const gw = await gateway(t)
    const calls: CallSpec[] = [
      ['k1', 'key', { failFirst: true }],
      ['k2', 'key', {}],
    ]
    const first = await post(gw.base, calls, { 'idempotency-key': 'keys-1' })
    const [one, two] = first.json.results.map((result) => result.output?.key)
    assert.ok(typeof one === 'string' && typeof two === 'string')
    assert.notEqual(one, two)
    assert.deepEqual(gw.seenKeys.filter((key) => key === one).length, 2, 'both attempts of k1 saw its key')
    const other = await post(gw.base, calls, { 'idempotency-key': 'keys-2' })
    assert.notEqual(other.json.results[0]?.output?.key, one)
    const unkeyed = await post(gw.base, calls)
    assert.deepEqual(
      unkeyed.json.results.map((result) => result.output?.key),
      [null, null],
    )
  })

  it('forgets the oldest batch past TOOLGATE_STATE_MAX_ENTRIES, whose key then runs as new', async (t) => {
    const gw = await gateway(t, { TOOLGATE_STATE_MAX_ENTRIES: '10' })
    for (let index = 0; index < 12; index++)
      await post(gw.base, [effect('c1', `bound-${String(index)}`)], { 'idempotency-key': `bound-${String(index)}` })
    await post(gw.base, [effect('c1', 'bound-0')], { 'idempotency-key': 'bound-0' })
    await post(gw.base, [effect('c1', 'bound-11')], { 'idempotency-key': 'bound-11' })
    assert.equal(gw.runs('bound-0'), 2, 'forgotten: ran again')
    assert.equal(gw.runs('bound-11'), 1, 'kept: replayed')
  })

  it('leaves nothing claimed when a keyed batch is refused whole (queue full): its retry runs', async (t) => {
    // Room for one more call, not for this batch's two: admitted past the early shedding, refused whole by the executor.
    const gw = await gateway(t, { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '1' })
    const busy = post(gw.base, [effect('c1', 'hog', 400)])
    await waitFor(() => gw.runs('hog') === 1, 'the gateway to be busy')
    const calls = [effect('c1', 'queued'), effect('c2', 'queued-2')]
    const refused = await post(gw.base, calls, { 'idempotency-key': 'full' })
    assert.equal(refused.status, 503)
    assert.equal(refused.json.error?.code, 'queue_full')
    await busy
    const retry = await post(gw.base, calls, { 'idempotency-key': 'full' })
    assert.equal(retry.status, 200)
    assert.deepEqual(
      retry.json.results.map((result) => result.ok),
      [true, true],
    )
    assert.equal(gw.runs('queued'), 1)
  })
})
