import { createHash } from 'node:crypto'
import type { Tool } from '../tools/tool.ts'

/** Why a call needs a human's approval: its key's list, its tool's `approval: required`, or its tool being destructive. */
export type ApprovalReason = 'key' | 'tool' | 'destructive'

/**
 * Whether a call of `tool` by a caller whose key lists `keyApproves` needs approval, and why: the
 * key's list first (a tool's `never` does not waive it), then the tool's `approval` (`required`,
 * or `never`, which waives the default), then the default: destructive tools, when approvals are
 * enabled. Undefined: the call runs without one.
 */
export function approvalReasonOf(tool: Tool, keyApproves: ReadonlySet<string> | undefined, enabled: boolean): ApprovalReason | undefined {
  if (keyApproves?.has(tool.name) === true) return 'key'
  if (tool.approval === 'required') return 'tool'
  if (tool.approval !== 'never' && tool.destructive === true && enabled) return 'destructive'
  return undefined
}

/**
 * A digest of everything that decides whether `tool` needs approval for this caller (its name,
 * its `approval` and `destructive` flags, whether the key lists it): bound into each token, so
 * that a policy changed since the token was issued voids it.
 */
export function approvalPolicyVersion(tool: Tool, keyApproves: ReadonlySet<string> | undefined): string {
  const decided = JSON.stringify([tool.name, tool.approval ?? null, tool.destructive === true, keyApproves?.has(tool.name) === true])
  return createHash('sha256').update(decided).digest('base64url').slice(0, 16)
}
