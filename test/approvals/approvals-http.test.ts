// Approval hold points against the real gateway on a loopback port, over HTTP: a call that needs
// a human's approval is held with a signed token, the caller re-posts it with a decision, and
// every way a token can be misused is refused.
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { defineTool, type Tool } from '../../src/tools/tool.ts'
import { assistantMessage, buildTestApp, listen, waitFor, type CallSpec } from '../helpers/app.ts'
import { startRedis } from '../helpers/redis.ts'
import { flipped } from '../helpers/tampered-token.ts'

const secret = 'approval-secret-for-tests-0123456789'
const keyA = 'approvals-key-a-0123456789'
const keyB = 'approvals-key-b-0123456789'
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** Tools that count their runs: transfer needs approval (its own flag), wipe is destructive, note needs none. */
function countingTools() {
  const runs = new Map<string, unknown[]>()
  const ran = (name: string, args: unknown) => {
    runs.set(name, [...(runs.get(name) ?? []), args])
    return { ran: name, args }
  }
  const tools: Tool[] = [
    defineTool({
      name: 'transfer',
      description: 'Moves money.',
      inputSchema: z.object({ to: z.string(), amount: z.int().min(1).max(1000) }),
      approval: 'required',
      execute: (args) => ran('transfer', args),
    }),
    defineTool({
      name: 'wipe',
      description: 'Deletes a folder.',
      inputSchema: z.object({ path: z.string() }),
      destructive: true,
      execute: (args) => ran('wipe', args),
    }),
    defineTool({
      name: 'note',
      description: 'Writes a note.',
      inputSchema: z.object({ text: z.string() }),
      execute: (args) => ran('note', args),
    }),
  ]
  return { tools, runs: (name: string) => runs.get(name) ?? [] }
}

async function gateway(t: TestContext, env: Record<string, string> = {}) {
  const counting = countingTools()
  const app = await buildTestApp(t, { tools: counting.tools, env: { TOOLGATE_APPROVAL_SECRETS: secret, ...env } })
  return { ...counting, base: await listen(app) }
}

interface Result {
  id: string
  ok: boolean
  output?: { ran: string; args: unknown }
  error?: { code: string; message: string }
  approval?: { token: string; expiresAt: string }
}

interface Reply {
  status: string
  messages: Array<{ tool_call_id?: string; content: string }>
  results: Result[]
  error?: { code: string; message: string; path?: string }
}

async function post(base: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Reply }
}

const transfer = (id: string, to = 'bob', amount = 5): CallSpec => [id, 'transfer', { to, amount }]
const note = (id: string): CallSpec => [id, 'note', { text: 'hello' }]

/** Posts `calls` and answers the token of the call held at `index`. */
async function held(base: string, calls: CallSpec[], index = 0, headers: Record<string, string> = {}): Promise<string> {
  const reply = await post(base, assistantMessage(calls), headers)
  const token = reply.json.results[index]?.approval?.token
  assert.ok(token !== undefined, `call ${String(index)} is held: ${reply.text}`)
  return token
}

interface Decision {
  token: string
  decision: 'approve' | 'reject'
  reason?: string
  arguments?: unknown
}

const decided = (calls: CallSpec[], approvals: Decision[]) => ({ ...assistantMessage(calls), approvals })

function assertRefused(reply: Awaited<ReturnType<typeof post>>, status: number, code: string, path = 'body.approvals[0].token') {
  assert.equal(reply.status, status, reply.text)
  assert.equal(reply.json.error?.code, code)
  assert.equal(reply.json.error.path, path)
}

describe('approvals: the round trip', () => {
  it('holds the call that needs approval with a token the model never sees, and runs the other call of the batch', async (t) => {
    const gw = await gateway(t)
    const reply = await post(gw.base, assistantMessage([transfer('c1'), note('c2')]))
    assert.equal(reply.status, 200)
    assert.equal(reply.json.status, 'awaiting_approval')
    const [first, second] = reply.json.results
    assert.equal(first?.ok, false)
    assert.equal(first.error?.code, 'awaiting_approval')
    assert.match(first.error.message, /needs a human's approval/)
    const token = first.approval?.token ?? ''
    assert.match(token, /^tga1\.[\w-]+\.[\w-]+$/)
    assert.ok(Date.parse(first.approval?.expiresAt ?? '') > Date.now())
    assert.equal(second?.ok, true)
    assert.equal(second.approval, undefined)
    // The tool message says the call awaits a decision; the token stays with the caller.
    assert.match(reply.json.messages[0]?.content ?? '', /"code":"awaiting_approval"/)
    assert.ok(!JSON.stringify(reply.json.messages).includes(token))
    assert.equal(gw.runs('transfer').length, 0)
    assert.equal(gw.runs('note').length, 1)
  })

  it('runs an approved call, once', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1'), note('c2')])
    const reply = await post(gw.base, decided([transfer('c1')], [{ token, decision: 'approve' }]))
    assert.equal(reply.status, 200, reply.text)
    assert.equal(reply.json.status, 'complete')
    assert.deepEqual(reply.json.results[0]?.output, { ran: 'transfer', args: { to: 'bob', amount: 5 } })
    assert.deepEqual(gw.runs('transfer'), [{ to: 'bob', amount: 5 }])
  })

  it('answers a rejected call with the reason the approver gave, for the model to read, and runs nothing', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    const reason = 'Bob is not a known payee; ask the user to confirm the account first.'
    const reply = await post(gw.base, decided([transfer('c1')], [{ token, decision: 'reject', reason }]))
    assert.equal(reply.status, 200, reply.text)
    assert.equal(reply.json.status, 'failed')
    assert.equal(reply.json.results[0]?.error?.code, 'rejected_by_approver')
    const content = JSON.parse(reply.json.messages[0]?.content ?? '{}') as { error: { code: string; message: string } }
    assert.equal(content.error.code, 'rejected_by_approver')
    assert.ok(content.error.message.includes(reason), content.error.message)
    assert.equal(gw.runs('transfer').length, 0)
  })

  it('runs an approval with edited arguments with the edits; edits that fail the schema answer invalid_arguments and leave the token unused', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1', 'bob', 500)])
    const refused = await post(
      gw.base,
      decided([transfer('c1', 'bob', 500)], [{ token, decision: 'approve', arguments: { to: 'bob', amount: 5000 } }]),
    )
    assert.equal(refused.status, 200, refused.text)
    assert.equal(refused.json.results[0]?.error?.code, 'invalid_arguments')
    assert.match(refused.json.results[0].error.message, /approver edited.*arguments\.amount/)
    assert.equal(gw.runs('transfer').length, 0)

    // Edited as a JSON string, like a model's arguments; keys in another order than the schema's.
    const edited = await post(
      gw.base,
      decided([transfer('c1', 'bob', 500)], [{ token, decision: 'approve', arguments: '{"amount":50,"to":"bob"}' }]),
    )
    assert.equal(edited.status, 200, edited.text)
    assert.equal(edited.json.status, 'complete')
    assert.deepEqual(gw.runs('transfer'), [{ to: 'bob', amount: 50 }])
  })

  it('works in every provider format: the token binds the call, not the shape it came in', async (t) => {
    const gw = await gateway(t)
    const args = { to: 'bob', amount: 5 }
    const shapes: Array<{ name: string; payload: Record<string, unknown> }> = [
      {
        name: 'anthropic',
        payload: { type: 'message', role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'transfer', input: args }] },
      },
      {
        name: 'responses',
        payload: {
          object: 'response',
          output: [{ type: 'function_call', id: 'fc_1', call_id: 'call_r', name: 'transfer', arguments: JSON.stringify(args) }],
        },
      },
      { name: 'gemini', payload: { candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'transfer', args } }] } }] } },
      {
        name: 'ollama',
        payload: {
          model: 'llama3.2',
          done: true,
          message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'transfer', arguments: args } }] },
        },
      },
    ]
    for (const { name, payload } of shapes) {
      const hold = await post(gw.base, payload)
      const token = hold.json.results[0]?.approval?.token
      assert.ok(token !== undefined, `${name}: ${hold.text}`)
      const run = await post(gw.base, { ...payload, approvals: [{ token, decision: 'approve' }] })
      assert.equal(run.json.status, 'complete', `${name}: ${run.text}`)
    }
    assert.equal(gw.runs('transfer').length, shapes.length)
  })
})

describe('approvals: refusals', () => {
  it('refuses a token used before (approval_replayed, 409), and runs nothing more', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    const body = decided([transfer('c1')], [{ token, decision: 'approve' }])
    assert.equal((await post(gw.base, body)).json.status, 'complete')
    assertRefused(await post(gw.base, body), 409, 'approval_replayed')
    // A rejection uses its token too.
    const other = await held(gw.base, [transfer('c2')])
    assert.equal((await post(gw.base, decided([transfer('c2')], [{ token: other, decision: 'reject' }]))).status, 200)
    assertRefused(await post(gw.base, decided([transfer('c2')], [{ token: other, decision: 'approve' }])), 409, 'approval_replayed')
    assert.equal(gw.runs('transfer').length, 1)
  })

  it('refuses an expired token (approval_expired)', async (t) => {
    const gw = await gateway(t, { TOOLGATE_APPROVAL_TTL_SECONDS: '1' })
    const token = await held(gw.base, [transfer('c1')])
    await delay(1_100)
    assertRefused(await post(gw.base, decided([transfer('c1')], [{ token, decision: 'approve' }])), 403, 'approval_expired')
    assert.equal(gw.runs('transfer').length, 0)
  })

  it('refuses a tampered token (a byte of its signature or of its claims flipped) and one signed with another secret (approval_invalid)', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    for (const altered of [flipped(token, 2), flipped(token, 1), token.slice(0, -1), 'not-a-token']) {
      assertRefused(await post(gw.base, decided([transfer('c1')], [{ token: altered, decision: 'approve' }])), 403, 'approval_invalid')
    }
    const elsewhere = await gateway(t, { TOOLGATE_APPROVAL_SECRETS: 'another-gateway-secret-0123456789ab' })
    const foreign = await held(elsewhere.base, [transfer('c1')])
    assertRefused(await post(gw.base, decided([transfer('c1')], [{ token: foreign, decision: 'approve' }])), 403, 'approval_invalid')
    assert.equal(gw.runs('transfer').length, 0)
  })

  it('refuses the token of another call: another call id, other arguments, another tool (approval_mismatch)', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    const approve = [{ token, decision: 'approve' as const }]
    const otherId = await post(gw.base, decided([transfer('c3')], approve))
    assertRefused(otherId, 403, 'approval_mismatch')
    assert.match(otherId.json.error?.message ?? '', /issued for call "c1"/)
    assertRefused(await post(gw.base, decided([transfer('c1', 'mallory', 5)], approve)), 403, 'approval_mismatch')
    assertRefused(await post(gw.base, decided([['c1', 'wipe', { path: '/' }]], approve)), 403, 'approval_mismatch')
    assert.equal(gw.runs('transfer').length, 0)
    // Still unused: the call it was issued for runs with it.
    assert.equal((await post(gw.base, decided([transfer('c1')], approve))).json.status, 'complete')
  })

  it('refuses a token issued to another caller (approval_wrong_caller), and runs it for its own', async (t) => {
    const gw = await gateway(t, { TOOLGATE_API_KEYS: `${keyA},${keyB}` })
    const token = await held(gw.base, [transfer('c1')], 0, bearer(keyA))
    const body = decided([transfer('c1')], [{ token, decision: 'approve' }])
    assertRefused(await post(gw.base, body, bearer(keyB)), 403, 'approval_wrong_caller')
    assert.equal(gw.runs('transfer').length, 0)
    assert.equal((await post(gw.base, body, bearer(keyA))).json.status, 'complete')
  })

  it('bounds what the caller chooses: the reason, the token, the number of decisions, one decision per call', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    const tooLong = await post(gw.base, decided([transfer('c1')], [{ token, decision: 'reject', reason: 'x'.repeat(1001) }]))
    assertRefused(tooLong, 400, 'invalid_payload', 'body.approvals[0].reason')
    assertRefused(
      await post(gw.base, decided([transfer('c1')], [{ token: 't'.repeat(5000), decision: 'approve' }])),
      400,
      'invalid_payload',
    )
    const twice = [
      { token, decision: 'approve' as const },
      { token, decision: 'approve' as const },
    ]
    assertRefused(await post(gw.base, decided([transfer('c1')], twice)), 400, 'invalid_payload', 'body.approvals[1]')
    assertRefused(await post(gw.base, decided([transfer('c1'), note('c2')], twice)), 400, 'invalid_payload', 'body.approvals[1].token')
    const rejectWithEdits = [{ token, decision: 'reject' as const, arguments: {} }]
    assertRefused(await post(gw.base, decided([transfer('c1')], rejectWithEdits)), 400, 'invalid_payload', 'body.approvals[0].arguments')
    assert.equal(gw.runs('transfer').length, 0)
  })
})

describe('approvals: Idempotency-Key', () => {
  it('runs an approved call once across two identical keyed re-posts, the second a replay of the first', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    const body = decided([transfer('c1')], [{ token, decision: 'approve' }])
    const first = await post(gw.base, body, { 'idempotency-key': 'approve-1' })
    const second = await post(gw.base, body, { 'idempotency-key': 'approve-1' })
    assert.equal(first.status, 200, first.text)
    assert.equal(first.json.status, 'complete')
    assert.equal(second.status, 200)
    assert.equal(second.text, first.text)
    assert.equal(second.headers.get('idempotent-replayed'), 'true')
    assert.equal(gw.runs('transfer').length, 1)
    // Without the key, or under another one, the token is spent.
    assertRefused(await post(gw.base, body), 409, 'approval_replayed')
    assertRefused(await post(gw.base, body, { 'idempotency-key': 'approve-2' }), 409, 'approval_replayed')
    assert.equal(gw.runs('transfer').length, 1)
  })

  it('binds the key to the decisions: the key of the held batch cannot carry them, nor can one key carry other decisions', async (t) => {
    const gw = await gateway(t)
    const hold = await post(gw.base, assistantMessage([transfer('c1')]), { 'idempotency-key': 'hold-1' })
    const token = hold.json.results[0]?.approval?.token ?? ''
    // Retried, the keyed hold answers the same token.
    assert.equal((await post(gw.base, assistantMessage([transfer('c1')]), { 'idempotency-key': 'hold-1' })).text, hold.text)
    const reused = await post(gw.base, decided([transfer('c1')], [{ token, decision: 'approve' }]), { 'idempotency-key': 'hold-1' })
    assert.equal(reused.status, 422)
    assert.equal(reused.json.error?.code, 'idempotency_key_reused')
    assert.equal(gw.runs('transfer').length, 0)
    const rejected = await post(gw.base, decided([transfer('c1')], [{ token, decision: 'reject' }]), { 'idempotency-key': 'decide-1' })
    assert.equal(rejected.json.status, 'failed')
    const approved = await post(gw.base, decided([transfer('c1')], [{ token, decision: 'approve' }]), { 'idempotency-key': 'decide-1' })
    assert.equal(approved.status, 422)
    assert.equal(approved.json.error?.code, 'idempotency_key_reused')
    assert.equal(gw.runs('transfer').length, 0)
  })

  it('runs an approved call once when two identical keyed re-posts arrive together', async (t) => {
    const gw = await gateway(t)
    const token = await held(gw.base, [transfer('c1')])
    const body = decided([transfer('c1')], [{ token, decision: 'approve' }])
    const replies = await Promise.all([1, 2, 3].map(() => post(gw.base, body, { 'idempotency-key': 'together-1' })))
    for (const reply of replies) assert.equal(reply.json.status, 'complete', reply.text)
    assert.equal(gw.runs('transfer').length, 1)
  })
})

describe('approvals: who needs them', () => {
  it("holds a key's listed tools for that key only (the keys file's approve), and runs them for the others", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-approvals-'))
    const keysFile = join(dir, 'keys.yaml')
    await writeFile(keysFile, `keys:\n  - { name: careful, key: ${keyA}, approve: [note] }\n  - { name: other, key: ${keyB} }\n`)
    const gw = await gateway(t, { TOOLGATE_API_KEYS_FILE: keysFile })
    const careful = await post(gw.base, assistantMessage([note('c1')]), bearer(keyA))
    assert.equal(careful.json.results[0]?.error?.code, 'awaiting_approval')
    assert.match(careful.json.results[0].error.message, /policy of the API key/)
    assert.equal(gw.runs('note').length, 0)
    assert.equal((await post(gw.base, assistantMessage([note('c1')]), bearer(keyB))).json.status, 'complete')
    const token = careful.json.results[0].approval?.token ?? ''
    assert.equal((await post(gw.base, decided([note('c1')], [{ token, decision: 'approve' }]), bearer(keyA))).json.status, 'complete')
    assert.equal(gw.runs('note').length, 2)
  })

  it('holds a destructive tool by default when approvals are enabled, and runs it when they are not', async (t) => {
    const wipe: CallSpec = ['c1', 'wipe', { path: '/tmp/x' }]
    const enabled = await gateway(t)
    const reply = await post(enabled.base, assistantMessage([wipe]))
    assert.equal(reply.json.results[0]?.error?.code, 'awaiting_approval')
    assert.match(reply.json.results[0].error.message, /marked destructive/)
    assert.equal(enabled.runs('wipe').length, 0)

    const disabled = await gateway(t, { TOOLGATE_APPROVAL_SECRETS: '' })
    assert.equal((await post(disabled.base, assistantMessage([wipe]))).json.status, 'complete')
    // A tool that requires approval is never run without it: approval_unavailable.
    const required = await post(disabled.base, assistantMessage([transfer('c2')]))
    assert.equal(required.json.results[0]?.error?.code, 'approval_unavailable')
    assert.equal(disabled.runs('transfer').length, 0)
    // And decisions cannot be given there.
    const refused = await post(disabled.base, decided([transfer('c2')], [{ token: 'tga1.x.y', decision: 'approve' }]))
    assertRefused(refused, 403, 'approval_invalid', 'body.approvals')
  })
})

describe('approvals: replicas sharing Redis', () => {
  it("refuses on one replica a token used on another, and replays a keyed approval's answer wherever the retry lands", async (t) => {
    const redis = await startRedis(t)
    if (redis === undefined) return
    const counting = countingTools()
    const env = {
      TOOLGATE_APPROVAL_SECRETS: secret,
      TOOLGATE_REDIS_URL: redis.url,
      TOOLGATE_REDIS_PREFIX: `approvals-${String(process.pid)}:`,
    }
    const apps = await Promise.all([1, 2].map(() => buildTestApp(t, { tools: counting.tools, env })))
    for (const app of apps) await waitFor(() => app.executions.store.up, 'a replica connected to Redis')
    const [a, b] = await Promise.all(apps.map((app) => listen(app)))
    assert.ok(a !== undefined && b !== undefined)

    const token = await held(a, [transfer('c1')])
    const body = decided([transfer('c1')], [{ token, decision: 'approve' }])
    assert.equal((await post(a, body)).json.status, 'complete')
    assertRefused(await post(b, body), 409, 'approval_replayed')

    const keyed = await held(b, [transfer('c2')])
    const keyedBody = decided([transfer('c2')], [{ token: keyed, decision: 'approve' }])
    const first = await post(a, keyedBody, { 'idempotency-key': 'across-1' })
    const retry = await post(b, keyedBody, { 'idempotency-key': 'across-1' })
    assert.equal(first.json.status, 'complete', first.text)
    assert.equal(retry.text, first.text)
    assert.equal(retry.headers.get('idempotent-replayed'), 'true')
    assert.equal(counting.runs('transfer').length, 2)
  })
})
