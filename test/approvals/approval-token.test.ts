// Approval tokens without HTTP: signing, verifying (with rotation), the canonical digest of
// arguments, and the review of prepared calls by the approvals of a request.
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { z } from 'zod'
import { Approvals } from '../../src/approvals/approvals.ts'
import {
  argumentsDigest,
  newTokenId,
  signApprovalToken,
  verifyApprovalToken,
  type ApprovalClaims,
} from '../../src/approvals/approval-token.ts'
import { Executor } from '../../src/batch/executor.ts'
import type { PreparedCall } from '../../src/batch/prepare-call.ts'
import { RequestError } from '../../src/errors.ts'
import { ConfigError, loadConfig } from '../../src/config/env.ts'
import { MemoryStore } from '../../src/state/memory-store.ts'
import { ToolRegistry } from '../../src/tools/registry.ts'
import { defineTool, type Tool } from '../../src/tools/tool.ts'
import { testConfig } from '../helpers/app.ts'
import { flipped } from '../helpers/tampered-token.ts'

const oldSecret = 'old-approval-secret-0123456789abcdef'
const newSecret = 'new-approval-secret-0123456789abcdef'

const claims = (overrides: Partial<ApprovalClaims> = {}): ApprovalClaims => ({
  jti: newTokenId(),
  sub: 'anonymous',
  tool: 'transfer',
  call: 'call_1',
  args: argumentsDigest({ to: 'bob', amount: 5 }),
  pol: 'p1',
  exp: Date.now() + 60_000,
  ...overrides,
})

describe('approval tokens', () => {
  it('round-trips the claims it was signed with', () => {
    const signed = claims()
    const verified = verifyApprovalToken(signApprovalToken(signed, newSecret), [newSecret])
    assert.deepEqual(verified, { ok: true, claims: signed })
  })

  it('verifies a token signed by a secret being rotated out while it is still listed, and no longer once it is removed', () => {
    const token = signApprovalToken(claims(), oldSecret)
    assert.equal(verifyApprovalToken(token, [newSecret, oldSecret]).ok, true)
    const removed = verifyApprovalToken(token, [newSecret])
    assert.equal(removed.ok, false)
    assert.match(removed.problem, /signature does not match/)
  })

  it('refuses a token whose claims or signature were altered, and what is not a token at all', () => {
    const token = signApprovalToken(claims(), newSecret)
    for (const altered of [flipped(token, 1), flipped(token, 2), `${token}x`, 'tga1.e30.', 'nonsense', '']) {
      assert.equal(verifyApprovalToken(altered, [newSecret]).ok, false, altered)
    }
  })

  it('refuses a well-signed token whose claims are not an approval', () => {
    const body = `tga1.${Buffer.from('{"jti":"x"}').toString('base64url')}`
    const forged = `${body}.${createHmac('sha256', newSecret).update(body).digest('base64url')}`
    const verified = verifyApprovalToken(forged, [newSecret])
    assert.equal(verified.ok, false)
    assert.match(verified.problem, /claims are not readable/)
  })

  it('digests arguments whatever the order of their keys, at every depth', () => {
    assert.equal(argumentsDigest({ a: 1, b: { d: [1, 2], c: 'x' } }), argumentsDigest({ b: { c: 'x', d: [1, 2] }, a: 1 }))
    assert.notEqual(argumentsDigest({ a: [1, 2] }), argumentsDigest({ a: [2, 1] }))
    assert.notEqual(argumentsDigest({ a: 1 }), argumentsDigest({ a: '1' }))
  })
})

function transferTool(options: Partial<Tool> = {}): Tool {
  return defineTool({
    name: 'transfer',
    description: 'Moves money.',
    inputSchema: z.object({ to: z.string(), amount: z.int() }),
    execute: () => ({ done: true }),
    approval: 'required',
    ...options,
  })
}

const limits = { maxArgumentBytes: 1024, maxArgumentDepth: 8 }
const call = { id: 'call_1', name: 'transfer', arguments: '{"to":"bob","amount":5}', path: 'tool_calls[0]' }
/** The token a held call was answered with. */
function tokenOf(entry: PreparedCall | undefined): string {
  return entry?.error === undefined ? '' : (entry.approval?.token ?? '')
}
const prepared = (tool: Tool): PreparedCall[] => [{ call, tool, args: { to: 'bob', amount: 5 } }]

/** Approvals with `secrets` (none: not enabled), their use records in memory. */
function approvalsOnMemory(secrets: string[]): Approvals {
  return new Approvals({ secrets, ttlSeconds: 60 }, new MemoryStore({ maxEntries: 10, maxBytes: 10_000, ttlMs: 60_000 }))
}

/** The gate of a request that brings no decisions. */
const undecided = (approvals: Approvals) => approvals.forRequest({ caller: 'anonymous', decisions: undefined, calls: [call] })

describe('the approvals of a request', () => {
  it('holds a call that needs approval, then runs it on a decision, and refuses it when the tool policy changed since', async () => {
    const approvals = approvalsOnMemory([newSecret])
    const held = await undecided(approvals).review(prepared(transferTool()), limits)
    const hold = held.prepared[0]
    assert.equal(hold?.error?.code, 'awaiting_approval')
    const token = tokenOf(hold)

    // The operator made the tool need no approval (never): the token no longer answers the policy in force.
    const gate = approvals.forRequest({ caller: 'anonymous', decisions: [{ token, decision: 'approve' }], calls: [call] })
    await assert.rejects(
      async () => gate.review(prepared(transferTool({ approval: 'never' })), limits),
      (error: unknown) => {
        assert.ok(error instanceof RequestError)
        assert.equal(error.code, 'approval_policy_changed')
        assert.equal(error.path, 'body.approvals[0].token')
        return true
      },
    )
    // Required by the key now rather than by the tool: another policy, refused too.
    const byKey = approvals.forRequest({
      caller: 'anonymous',
      keyApproves: new Set(['transfer']),
      decisions: [{ token, decision: 'approve' }],
      calls: [call],
    })
    await assert.rejects(async () => byKey.review(prepared(transferTool()), limits), { code: 'approval_policy_changed' })
    // Under the policy it was issued under, it runs.
    const approved = await gate.review(prepared(transferTool()), limits)
    assert.equal(approved.prepared[0]?.error, undefined)
  })

  it('answers approval_unavailable, never runs, a call that needs approval when no secret is configured', async () => {
    const approvals = approvalsOnMemory([])
    const { prepared: reviewed } = await undecided(approvals).review(prepared(transferTool()), limits)
    assert.equal(reviewed[0]?.error?.code, 'approval_unavailable')
    // A destructive tool needs approval by default only when approvals are enabled.
    const destructive = transferTool({ approval: undefined, destructive: true })
    const runs = await undecided(approvals).review(prepared(destructive), limits)
    assert.equal(runs.prepared[0]?.error, undefined)
  })

  it("lets the execution that used a token (an Idempotency-Key's) use it again, for a call it never started, and no one else", async () => {
    const approvals = approvalsOnMemory([newSecret])
    const held = await undecided(approvals).review(prepared(transferTool()), limits)
    const token = tokenOf(held.prepared[0])
    const decide = () => approvals.forRequest({ caller: 'anonymous', decisions: [{ token, decision: 'approve' }], calls: [call] })
    await decide().within('execution-1').review(prepared(transferTool()), limits)
    const again = await decide().within('execution-1').review(prepared(transferTool()), limits)
    assert.equal(again.prepared[0]?.error, undefined)
    await assert.rejects(async () => decide().within('execution-2').review(prepared(transferTool()), limits), { code: 'approval_replayed' })
    await assert.rejects(async () => decide().review(prepared(transferTool()), limits), { code: 'approval_replayed' })
  })

  it('gives a token its one use back when the batch is refused afterwards (undo), so that it can be used again', async () => {
    const approvals = approvalsOnMemory([newSecret])
    const held = await undecided(approvals).review(prepared(transferTool()), limits)
    const entry = held.prepared[0]
    const token = tokenOf(entry)
    const decide = () => approvals.forRequest({ caller: 'anonymous', decisions: [{ token, decision: 'approve' }], calls: [call] })
    const first = await decide().review(prepared(transferTool()), limits)
    await assert.rejects(async () => decide().review(prepared(transferTool()), limits), { code: 'approval_replayed' })
    await first.undo()
    const again = await decide().review(prepared(transferTool()), limits)
    assert.equal(again.prepared[0]?.error, undefined)
  })
})

describe('TOOLGATE_APPROVAL_SECRETS', () => {
  it('takes a comma-separated list, the first signing, and refuses a short secret without showing it', () => {
    assert.deepEqual(loadConfig({ TOOLGATE_APPROVAL_SECRETS: `${newSecret}, ${oldSecret}` }).approvalSecrets, [newSecret, oldSecret])
    assert.deepEqual(loadConfig({}).approvalSecrets, [])
    assert.throws(
      () => loadConfig({ TOOLGATE_APPROVAL_SECRETS: `${newSecret},too-short-a-secret` }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.match(error.message, /TOOLGATE_APPROVAL_SECRETS \(secret, value not shown\): secret 2 of 2 is too short/)
        assert.ok(!error.message.includes('too-short-a-secret') && !error.message.includes(newSecret))
        return true
      },
    )
  })
})

describe('an executor used without HTTP', () => {
  it('never runs a call that needs approval when its batch brings no approvals: approval_unavailable', async () => {
    let runs = 0
    const tool = transferTool({ execute: () => ++runs })
    const executor = new Executor(new ToolRegistry([tool]), testConfig())
    const batch = await executor.execute([call], { log: pino({ level: 'silent' }) })
    assert.equal(batch.calls[0]?.result.error?.code, 'approval_unavailable')
    assert.equal(runs, 0)
  })
})
