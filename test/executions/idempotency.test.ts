// Idempotency-Key, Prefer: wait / respond-async and GET /executions on the embedded state (one
// process, memory), against the real server on a loopback port, over HTTP.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { ToolError } from '../../src/errors.ts'
import { defineTool, type Tool } from '../../src/tools/tool.ts'
import { assistantMessage, buildTestApp, listen, waitFor, type CallSpec } from '../helpers/app.ts'

// TOOLGATE_API_KEYS names its keys key-1, key-2, ... (src/access/api-keys.ts): the callers an execution belongs to.
const keyA = 'idempotency-key-a-0123456789'
const keyB = 'idempotency-key-b-0123456789'
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/**
 * Tools that count what they did, under a tag: `effect` (started, finished, and whether the
 * gateway aborted it: it sees its signal, but carries on, so that a cancelled run still counts as
 * finished) and `key` (answers the call's own idempotency key; fails its first attempt once, retryably).
 */
function countingTools() {
  const started = new Map<string, number>()
  const finished = new Map<string, number>()
  const aborted = new Map<string, number>()
  const bump = (counts: Map<string, number>, tag: string) => counts.set(tag, (counts.get(tag) ?? 0) + 1)
  const effect = defineTool({
    name: 'effect',
    description: 'Counts an effect under its tag, after ms.',
    inputSchema: z.object({ tag: z.string(), ms: z.number().default(0) }),
    execute: async ({ tag, ms }, { signal }) => {
      bump(started, tag)
      const onAbort = () => bump(aborted, tag)
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        await delay(ms)
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
      bump(finished, tag)
      return { tag, run: started.get(tag) }
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
  const count = (counts: Map<string, number>) => (tag: string) => counts.get(tag) ?? 0
  return { tools, runs: count(started), finished: count(finished), aborted: count(aborted), seenKeys }
}

async function gateway(t: TestContext, env: Record<string, string> = {}) {
  const counting = countingTools()
  const app = await buildTestApp(t, { tools: counting.tools, env })
  return { ...counting, app, base: await listen(app) }
}

const effect = (id: string, tag: string, ms = 0): CallSpec => [id, 'effect', { tag, ms }]

interface Reply {
  status: string
  messages: Array<{ tool_call_id: string; content: string }>
  results: Array<{ id: string; ok: boolean; output?: { tag?: string; key?: string | null }; error?: { code: string; message: string } }>
  error?: { code: string; path?: string }
}

async function post(base: string, calls: CallSpec[], headers: Record<string, string> = {}, signal?: AbortSignal) {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(assistantMessage(calls)),
    signal,
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Reply }
}

async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { headers })
  return { status: response.status, headers: response.headers, json: (await response.json()) as Reply }
}

/** GETs `location` until its batch is no longer pending (a few seconds at most). */
async function settled(base: string, location: string, headers: Record<string, string> = {}) {
  let reply = await get(base, location, headers)
  for (let polls = 0; reply.status === 200 && reply.json.status === 'pending' && polls < 200; polls++) {
    await delay(50)
    reply = await get(base, location, headers)
  }
  return reply
}

const codes = (reply: Reply) => reply.results.map((result) => result.error?.code ?? 'ok')
/** Ref'd timers: what keeps a process alive. */
const liveTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length

describe('Idempotency-Key (embedded state)', () => {
  it('answers a retry of a finished batch with the same bytes, marked a replay under the same execution id, running nothing again', async (t) => {
    const gw = await gateway(t)
    const calls = [effect('c1', 'replay', 20), effect('c2', 'replay-2')]
    const first = await post(gw.base, calls, { 'idempotency-key': 'replay-1' })
    const second = await post(gw.base, calls, { 'idempotency-key': 'replay-1' })
    assert.equal(first.status, 200)
    assert.equal(first.json.status, 'complete')
    assert.equal(second.status, 200)
    assert.equal(second.text, first.text)
    assert.equal(first.headers.get('idempotent-replayed'), null)
    assert.equal(second.headers.get('idempotent-replayed'), 'true')
    assert.match(first.headers.get('toolgate-execution-id') ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(second.headers.get('toolgate-execution-id'), first.headers.get('toolgate-execution-id'))
    assert.equal(first.headers.get('location'), null, 'a finished batch has nothing left to read later')
    assert.equal(gw.runs('replay'), 1)
    assert.equal(gw.runs('replay-2'), 1)
  })

  it('runs each call of 20 concurrent identical keyed requests once, and answers them all with the same body', async (t) => {
    const gw = await gateway(t)
    const calls = [effect('c1', 'crowd', 100), effect('c2', 'crowd-2')]
    const replies = await Promise.all(Array.from({ length: 20 }, () => post(gw.base, calls, { 'idempotency-key': 'crowd' })))
    const [one] = replies
    assert.ok(one)
    assert.equal(one.json.status, 'complete')
    for (const reply of replies) {
      assert.equal(reply.status, 200)
      assert.equal(reply.text, one.text)
      assert.equal(reply.headers.get('toolgate-execution-id'), one.headers.get('toolgate-execution-id'))
    }
    assert.equal(gw.runs('crowd'), 1)
    assert.equal(gw.runs('crowd-2'), 1)
  })

  it("refuses a key reused with other calls (422), and keeps one caller's keys apart from another's (scoped to key-1, key-2)", async (t) => {
    const gw = await gateway(t, { TOOLGATE_API_KEYS: `${keyA},${keyB}` })
    const as = (key: string) => ({ ...bearer(key), 'idempotency-key': 'shared' })
    const first = await post(gw.base, [effect('c1', 'scope')], as(keyA))
    assert.equal(first.status, 200)
    const reused = await post(gw.base, [effect('c1', 'other')], as(keyA))
    assert.equal(reused.status, 422)
    assert.equal(reused.json.error?.code, 'idempotency_key_reused')
    assert.equal(reused.json.error.path, 'headers.idempotency-key')
    assert.equal(gw.runs('other'), 0)
    const other = await post(gw.base, [effect('c1', 'scope')], as(keyB))
    assert.equal(other.status, 200)
    assert.equal(other.headers.get('idempotent-replayed'), null)
    assert.notEqual(other.headers.get('toolgate-execution-id'), first.headers.get('toolgate-execution-id'))
    assert.equal(gw.runs('scope'), 2, 'the same key string of another API key is another batch')
  })

  it('lets a keyed batch finish when its client disconnects, for the retry; an unkeyed one is cancelled, and its retry runs again', async (t) => {
    const gw = await gateway(t)
    const keyed = [effect('c1', 'kept', 400)]
    const client = new AbortController()
    const dropped = post(gw.base, keyed, { 'idempotency-key': 'kept' }, client.signal)
    await waitFor(() => gw.runs('kept') === 1, 'the keyed call to start')
    client.abort()
    await assert.rejects(dropped)
    await waitFor(() => gw.finished('kept') === 1, 'the keyed call to finish')
    assert.equal(gw.aborted('kept'), 0, 'the disconnect did not reach the keyed call')
    const retry = await post(gw.base, keyed, { 'idempotency-key': 'kept' })
    assert.equal(retry.headers.get('idempotent-replayed'), 'true')
    assert.deepEqual(retry.json.results[0]?.output, { tag: 'kept', run: 1 })
    assert.equal(gw.runs('kept'), 1)

    // Decided behaviour without a key: the disconnect cancels, and no de-duplication (call ids are not unique across clients).
    const unkeyed = [effect('c1', 'dropped', 400)]
    const other = new AbortController()
    const cancelled = post(gw.base, unkeyed, {}, other.signal)
    await waitFor(() => gw.runs('dropped') === 1, 'the unkeyed call to start')
    other.abort()
    await assert.rejects(cancelled)
    await waitFor(() => gw.aborted('dropped') === 1, 'the unkeyed call to be cancelled')
    const again = await post(gw.base, unkeyed)
    assert.equal(again.headers.get('idempotent-replayed'), null)
    assert.deepEqual(again.json.results[0]?.output, { tag: 'dropped', run: 2 })
    assert.equal(gw.runs('dropped'), 2)
  })

  it('answers at the Prefer: wait deadline with the rest pending, readable at Location by its caller only', async (t) => {
    const gw = await gateway(t, { TOOLGATE_API_KEYS: `${keyA},${keyB}` })
    const started = performance.now()
    const early = await post(gw.base, [effect('slow', 'late', 3000), effect('fast', 'early')], { ...bearer(keyA), prefer: 'wait=1' })
    const elapsed = performance.now() - started
    assert.ok(elapsed > 800 && elapsed < 2500, `answered after ${String(Math.round(elapsed))} ms, for wait=1 and a 3 s call`)
    assert.equal(gw.finished('late'), 0)
    assert.equal(early.status, 200)
    assert.equal(early.json.status, 'pending')
    assert.equal(early.headers.get('preference-applied'), 'wait=1')
    assert.deepEqual(codes(early.json), ['pending', 'ok'])
    assert.match(early.json.results[0]?.error?.message ?? '', /still running/)
    const [slowMessage, fastMessage] = early.json.messages
    assert.ok(slowMessage && fastMessage)
    assert.equal(slowMessage.tool_call_id, 'slow')
    assert.match(slowMessage.content, /still running/)
    assert.deepEqual(JSON.parse(fastMessage.content), { tag: 'early', run: 1 })
    const id = early.headers.get('toolgate-execution-id') ?? ''
    const location = early.headers.get('location') ?? ''
    assert.equal(location, `/executions/${id}`)
    assert.match(location, /^\/executions\/[0-9a-f-]{36}$/)

    const meanwhile = await get(gw.base, location, bearer(keyA))
    assert.equal(meanwhile.status, 200)
    assert.equal(meanwhile.json.status, 'pending')
    assert.deepEqual(codes(meanwhile.json), ['pending', 'ok'])
    const stranger = await get(gw.base, location, bearer(keyB))
    assert.equal(stranger.status, 404)
    assert.equal(stranger.json.error?.code, 'execution_not_found')

    await waitFor(() => gw.finished('late') === 1, 'the slow call to finish', 10_000)
    const final = await settled(gw.base, location, bearer(keyA))
    assert.equal(final.status, 200)
    assert.equal(final.json.status, 'complete')
    assert.deepEqual(
      final.json.results.map((result) => result.output),
      [
        { tag: 'late', run: 1 },
        { tag: 'early', run: 1 },
      ],
    )
    assert.equal(gw.runs('late'), 1)
    assert.equal((await get(gw.base, location, bearer(keyB))).status, 404, 'still not the other caller')
    const unknown = await get(gw.base, '/executions/00000000-0000-4000-8000-000000000000', bearer(keyA))
    assert.equal(unknown.status, 404)
    assert.equal(unknown.json.error?.code, 'execution_not_found')
  })

  it('answers Prefer: respond-async with 202 and Location at once; GET Location answers the batch once it is done', async (t) => {
    const gw = await gateway(t)
    const accepted = await post(gw.base, [effect('c1', 'async', 300)], { prefer: 'respond-async' })
    assert.equal(gw.finished('async'), 0, 'answered before the call finished')
    assert.equal(accepted.status, 202)
    assert.equal(accepted.json.status, 'pending')
    assert.deepEqual(codes(accepted.json), ['pending'])
    assert.equal(accepted.headers.get('preference-applied'), 'respond-async')
    const location = accepted.headers.get('location') ?? ''
    assert.equal(location, `/executions/${accepted.headers.get('toolgate-execution-id') ?? ''}`)
    const final = await settled(gw.base, location)
    assert.equal(final.json.status, 'complete')
    assert.deepEqual(final.json.results[0]?.output, { tag: 'async', run: 1 })
    assert.equal(gw.runs('async'), 1)
  })

  it('joins a batch still running under its key, or refuses to with 409 and Retry-After when asked not to wait', async (t) => {
    const gw = await gateway(t)
    const calls = [effect('c1', 'busy', 500)]
    const first = post(gw.base, calls, { 'idempotency-key': 'busy' })
    await waitFor(() => gw.runs('busy') === 1, 'the call to start')
    const impatient = await post(gw.base, calls, { 'idempotency-key': 'busy', prefer: 'wait=0' })
    assert.equal(impatient.status, 409)
    assert.equal(impatient.json.error?.code, 'execution_in_progress')
    assert.ok(Number(impatient.headers.get('retry-after')) >= 1)
    const joined = await post(gw.base, calls, { 'idempotency-key': 'busy' })
    const original = await first
    assert.equal(joined.text, original.text)
    assert.equal(original.headers.get('idempotent-replayed'), null)
    assert.equal(joined.headers.get('idempotent-replayed'), 'true', 'nothing ran for the request that joined')
    assert.equal(gw.runs('busy'), 1)
  })

  it('refuses unusable keys (400 naming the header) and a streamed reply for a keyed batch; a quoted key is the bare one', async (t) => {
    const gw = await gateway(t)
    for (const bad of ['', '""', 'x'.repeat(256), 'x'.repeat(300), 'clé']) {
      const refused = await post(gw.base, [effect('c1', 'bad')], { 'idempotency-key': bad })
      assert.equal(refused.status, 400, bad)
      assert.equal(refused.json.error?.code, 'invalid_idempotency_key')
      assert.equal(refused.json.error.path, 'headers.idempotency-key')
    }
    for (const accept of ['application/x-ndjson', 'text/event-stream']) {
      const streamed = await post(gw.base, [effect('c1', 'bad')], { 'idempotency-key': 'stream', accept })
      assert.equal(streamed.status, 400)
      assert.equal(streamed.json.error?.code, 'bad_request')
      assert.equal(streamed.json.error.path, 'headers.accept')
    }
    assert.equal(gw.runs('bad'), 0)

    assert.equal((await post(gw.base, [effect('c1', 'longest')], { 'idempotency-key': 'x'.repeat(255) })).status, 200)
    const bare = await post(gw.base, [effect('c1', 'quoted')], { 'idempotency-key': 'abc' })
    const quoted = await post(gw.base, [effect('c1', 'quoted')], { 'idempotency-key': '"abc"' })
    assert.equal(quoted.headers.get('idempotent-replayed'), 'true')
    assert.equal(quoted.text, bare.text)
    assert.equal(gw.runs('quoted'), 1)
  })

  it('gives each call its own key, the same on a retried attempt, another under another Idempotency-Key, and none without one', async (t) => {
    const gw = await gateway(t)
    const calls: CallSpec[] = [
      ['k1', 'key', { failFirst: true }],
      ['k2', 'key', {}],
    ]
    const first = await post(gw.base, calls, { 'idempotency-key': 'keys-1' })
    const [one, two] = first.json.results.map((result) => result.output?.key)
    assert.ok(typeof one === 'string' && typeof two === 'string')
    assert.notEqual(one, two)
    assert.equal(gw.seenKeys.length, 3)
    assert.equal(gw.seenKeys.filter((key) => key === one).length, 2, 'k1 failed once and was retried with its key')
    const other = await post(gw.base, calls, { 'idempotency-key': 'keys-2' })
    const others = other.json.results.map((result) => result.output?.key)
    assert.ok(others.every((key) => typeof key === 'string' && key !== one && key !== two))
    assert.notEqual(others[0], others[1])
    const unkeyed = await post(gw.base, calls)
    assert.deepEqual(
      unkeyed.json.results.map((result) => result.output?.key),
      [null, null],
    )
  })

  it('forgets the oldest batch past TOOLGATE_STATE_MAX_ENTRIES=10 (a bound, documented): its key then runs as new', async (t) => {
    const gw = await gateway(t, { TOOLGATE_STATE_MAX_ENTRIES: '10' })
    for (let index = 0; index < 12; index++)
      await post(gw.base, [effect('c1', `bound-${String(index)}`)], { 'idempotency-key': `bound-${String(index)}` })
    const forgotten = await post(gw.base, [effect('c1', 'bound-0')], { 'idempotency-key': 'bound-0' })
    const kept = await post(gw.base, [effect('c1', 'bound-11')], { 'idempotency-key': 'bound-11' })
    assert.equal(forgotten.headers.get('idempotent-replayed'), null)
    assert.equal(gw.runs('bound-0'), 2, 'forgotten: ran again')
    assert.equal(kept.headers.get('idempotent-replayed'), 'true')
    assert.equal(gw.runs('bound-11'), 1, 'kept: replayed')
  })

  it('leaves nothing claimed when a keyed batch is refused whole (queue full): its retry runs', async (t) => {
    // Room for one more call, not for this batch's two: admitted past the early shedding (which would refuse
    // before the key is even looked at, with TOOLGATE_MAX_QUEUED_CALLS=0), refused whole by the executor.
    // TOOLGATE_MAX_WAIT_SECONDS=10: see the next test (a timer of it outlives the refusal).
    const gw = await gateway(t, { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '1', TOOLGATE_MAX_WAIT_SECONDS: '10' })
    const busy = post(gw.base, [effect('c1', 'hog', 400)])
    await waitFor(() => gw.runs('hog') === 1, 'the gateway to be busy')
    const calls = [effect('c1', 'queued'), effect('c2', 'queued-2')]
    const refused = await post(gw.base, calls, { 'idempotency-key': 'full' })
    assert.equal(refused.status, 503)
    assert.equal(refused.json.error?.code, 'queue_full')
    assert.equal(gw.runs('queued'), 0)
    await busy
    // A bounded wait: were the claims left behind, this would answer pending instead of hanging.
    const retry = await post(gw.base, calls, { 'idempotency-key': 'full', prefer: 'wait=5' })
    assert.equal(retry.status, 200)
    assert.equal(retry.json.status, 'complete')
    assert.deepEqual(codes(retry.json), ['ok', 'ok'])
    assert.equal(retry.headers.get('idempotent-replayed'), null)
    assert.equal(gw.runs('queued'), 1)
    assert.equal(gw.runs('queued-2'), 1)
  })

  // Bug (found writing these tests): Executions.run awaits Promise.race([everything, delay(waitMs)]) and aborts the
  // delay only after it; a batch refused whole rejects the race, so the delay of TOOLGATE_MAX_WAIT_SECONDS (300 s by
  // default) stays armed and ref'd: one timer (and what its closure holds) per refused keyed request, and a process
  // that cannot exit on its own until they lapse. TOOLGATE_MAX_WAIT_SECONDS=5 bounds the harm while this test fails.
  it('leaves no timer behind when keyed batches are refused whole', async (t) => {
    const before = liveTimers()
    const gw = await gateway(t, { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '1', TOOLGATE_MAX_WAIT_SECONDS: '5' })
    const busy = post(gw.base, [effect('c1', 'hog', 300)])
    await waitFor(() => gw.runs('hog') === 1, 'the gateway to be busy')
    for (let index = 0; index < 3; index++) {
      const refused = await post(gw.base, [effect('c1', 'queued'), effect('c2', 'queued')], { 'idempotency-key': `full-${String(index)}` })
      assert.equal(refused.json.error?.code, 'queue_full')
    }
    await busy
    await gw.app.close()
    assert.ok(liveTimers() <= before, `${String(liveTimers() - before)} timers outlived the app`)
  })

  // Bug (found writing these tests): after a refusal whole (nothing claimed, nothing running), a retry that does not
  // wait (Prefer: respond-async, or wait=0) is answered 409 execution_in_progress, on every retry until the key
  // expires: Executions.run checks "not every call answered && waitMs === 0" before claiming, not "some call runs".
  it('runs the calls of a respond-async retry after its first attempt was refused whole (no 409: nothing runs)', async (t) => {
    const gw = await gateway(t, { TOOLGATE_CONCURRENCY: '1', TOOLGATE_MAX_QUEUED_CALLS: '1' })
    const busy = post(gw.base, [effect('c1', 'hog', 300)])
    await waitFor(() => gw.runs('hog') === 1, 'the gateway to be busy')
    const calls = [effect('c1', 'later'), effect('c2', 'later-2')]
    const headers = { 'idempotency-key': 'async-full', prefer: 'respond-async' }
    const refused = await post(gw.base, calls, headers)
    assert.equal(refused.json.error?.code, 'queue_full')
    await busy
    const retry = await post(gw.base, calls, headers)
    assert.equal(retry.status, 202, `${String(retry.status)} ${retry.json.error?.code ?? ''}`)
    const final = await settled(gw.base, retry.headers.get('location') ?? '')
    assert.deepEqual(codes(final.json), ['ok', 'ok'])
    assert.equal(gw.runs('later'), 1)
  })

  // The entry bound (and the byte bound) evicts only finished executions: a retry of one still running joins it,
  // rather than running its calls a second time, in parallel.
  it('keeps a keyed batch that still runs past TOOLGATE_STATE_MAX_ENTRIES: a retry joins it', async (t) => {
    const gw = await gateway(t, { TOOLGATE_STATE_MAX_ENTRIES: '10' })
    const calls = [effect('c1', 'long', 1000)]
    const first = post(gw.base, calls, { 'idempotency-key': 'long' })
    await waitFor(() => gw.runs('long') === 1, 'the long call to start')
    for (let index = 0; index < 12; index++)
      await post(gw.base, [effect('c1', `churn-${String(index)}`)], { 'idempotency-key': `churn-${String(index)}` })
    const retry = await post(gw.base, calls, { 'idempotency-key': 'long' })
    assert.equal(retry.text, (await first).text)
    assert.equal(gw.runs('long'), 1)
  })
})
