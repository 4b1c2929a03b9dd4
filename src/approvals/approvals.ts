import { createHash, randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { ApprovalHold } from '../batch/call-result.ts'
import type { ArgumentLimits } from '../batch/parse-arguments.ts'
import { checkArguments, type CallGate, type PreparedCall, type Reviewed } from '../batch/prepare-call.ts'
import { CallError, clipped, formatPath, RequestError, type RequestErrorCode } from '../errors.ts'
import type { RawToolCall } from '../providers/provider.ts'
import { StateUnavailableError, type StateStore } from '../state/state-store.ts'
import type { Tool } from '../tools/tool.ts'
import { approvalPolicyVersion, approvalReasonOf, type ApprovalReason } from './approval-policy.ts'
import {
  argumentsDigest,
  canonicalJson,
  newTokenId,
  signApprovalToken,
  verifyApprovalToken,
  type ApprovalClaims,
} from './approval-token.ts'

/** Characters of an approval token accepted back; those toolgate issues are far shorter. */
export const maxApprovalTokenChars = 4_096
/** Characters of an approver's reason for a rejection: the model reads it. */
export const maxApprovalReasonChars = 1_000
/** Characters of a call id or tool name quoted back in a refusal. */
const maxQuotedChars = 80

/** One human decision about a held call, as the request body's `approvals` carries it. */
export const decisionSchema = z
  .strictObject({
    token: z.string().min(1).max(maxApprovalTokenChars).describe('results[].approval.token of the held call.'),
    decision: z.enum(['approve', 'reject']),
    reason: z.string().max(maxApprovalReasonChars).optional().describe('Why it was rejected: the model reads it in the tool message.'),
    arguments: z
      .unknown()
      .optional()
      .describe("With approve: the arguments to run instead (a JSON object, or its JSON string), validated again like a call's."),
  })
  .refine((decision) => decision.arguments === undefined || decision.decision === 'approve', {
    message: 'arguments are edits to approve with; a rejection takes none',
    path: ['arguments'],
  })

export const decisionsSchema = z.array(decisionSchema).describe('The decisions about calls toolgate held for approval, one per call.')

export type Decision = z.output<typeof decisionSchema>

/** Where the decisions travel: a field of the request body beside the provider's own. */
export const decisionsField = 'approvals'

export interface ApprovalSettings {
  /** The first signs, every one verifies; none: approvals are off. */
  secrets: readonly string[]
  ttlSeconds: number
}

/** Where single-use records are kept: the state store, memory or Redis. */
export type UseRecords = Pick<StateStore, 'useOnce' | 'releaseUse'>

export interface RequestApprovalsOptions {
  /** The API key's name, or `anonymous`: tokens are issued to it and refused to anyone else. */
  caller: string
  /** The tools the caller's key wants approved whatever their own policy. */
  keyApproves?: ReadonlySet<string> | undefined
  /** The body's `approvals`, as sent (undefined when absent). */
  decisions: unknown
  /** The payload's calls, which the decisions must each name one of. */
  calls: readonly RawToolCall[]
}

/**
 * Approval hold points, stateless: a call that needs a human's approval is answered
 * awaiting_approval with a token signed here, bound to the caller, the tool, the call id, the
 * arguments as validated, the tool's approval policy and an expiry; the caller re-posts the call
 * with a decision carrying that token. Nothing is kept between the two requests but, once the
 * decision is used, a record of the token's one use (the state store, until the token expires).
 */
export class Approvals {
  readonly #secrets: readonly string[]
  readonly #ttlMs: number
  readonly #uses: UseRecords
  readonly #now: () => number

  constructor(settings: ApprovalSettings, uses: UseRecords, now: () => number = Date.now) {
    this.#secrets = settings.secrets
    this.#ttlMs = settings.ttlSeconds * 1000
    this.#uses = uses
    this.#now = now
  }

  /** A secret is configured: calls that need approval are held (else answered approval_unavailable). */
  get enabled(): boolean {
    return this.#secrets.length > 0
  }

  /**
   * The approvals of one request. Checks what needs no tool (each decision's shape, signature,
   * caller, expiry and call) before anything runs; throws a RequestError naming the decision's
   * field for the first one refused.
   */
  forRequest(options: RequestApprovalsOptions): RequestApprovals {
    const decisions = this.#verified(options)
    return new RequestApprovals(this, options, decisions)
  }

  /** The gate of a batch that came by a way that carries no decisions, from a caller whose key lists `keyApproves`. */
  withoutDecisions(keyApproves?: ReadonlySet<string>): CallGate {
    return withoutDecisions(this.enabled, keyApproves)
  }

  issue(claims: Omit<ApprovalClaims, 'jti' | 'exp'>): ApprovalHold {
    const exp = this.#now() + this.#ttlMs
    const secret = this.#secrets[0]
    if (secret === undefined) throw new Error('invariant broken: an approval token issued without a secret')
    return { token: signApprovalToken({ jti: newTokenId(), ...claims, exp }, secret), expiresAt: new Date(exp).toISOString() }
  }

  /** Records each token's use by `holder`; refuses (approval_replayed) a token another holder used, undoing its own records. */
  async use(decisions: readonly VerifiedDecision[], holder: string): Promise<() => Promise<void>> {
    const recorded: string[] = []
    const undo = async () => {
      await Promise.all(recorded.map((key) => this.#uses.releaseUse(key, holder).catch(() => undefined)))
    }
    try {
      for (const decision of decisions) {
        const key = `approval:${decision.claims.jti}`
        const ttlMs = Math.max(1_000, decision.claims.exp - this.#now())
        const previous = await this.#uses.useOnce(key, holder, ttlMs)
        if (previous === undefined) recorded.push(key)
        else if (previous !== holder) {
          throw refusal(
            'approval_replayed',
            decision,
            'was used before: each token decides its call once. Re-post the call without a decision to have it held again',
          )
        }
      }
    } catch (error) {
      await undo()
      if (error instanceof StateUnavailableError) {
        throw new RequestError(
          'state_unavailable',
          `The one use of an approval token could not be recorded (${error.message}); nothing ran.`,
          {
            retryAfterSeconds: 1,
          },
        )
      }
      throw error
    }
    return undo
  }

  #verified(options: RequestApprovalsOptions): VerifiedDecision[] {
    if (options.decisions === undefined) return []
    const parsed = decisionsSchema.safeParse(options.decisions)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const path = formatPath(issue?.path ?? [], `body.${decisionsField}`)
      throw new RequestError('invalid_payload', `Invalid value at ${path}: ${issue?.message ?? 'not a list of decisions'}`, { path })
    }
    if (parsed.data.length > 0 && !this.enabled) {
      throw new RequestError(
        'approval_invalid',
        'The body carries approvals, but approvals are not enabled on this gateway (TOOLGATE_APPROVAL_SECRETS is unset).',
        { path: `body.${decisionsField}` },
      )
    }
    if (parsed.data.length > options.calls.length) {
      throw new RequestError(
        'invalid_payload',
        `The body carries ${String(parsed.data.length)} decisions for ${String(options.calls.length)} tool calls; at most one per call.`,
        { path: `body.${decisionsField}[${String(options.calls.length)}]` },
      )
    }
    const now = this.#now()
    const decided = new Set<string>()
    return parsed.data.map((decision, index) => {
      const path = `body.${decisionsField}[${String(index)}].token`
      const verified = verifyApprovalToken(decision.token, this.#secrets)
      if (!verified.ok)
        throw new RequestError('approval_invalid', `The approval token at ${path} is refused: ${verified.problem}.`, { path })
      const entry: VerifiedDecision = { ...decision, claims: verified.claims, path }
      const { claims } = entry
      if (claims.sub !== options.caller) throw refusal('approval_wrong_caller', entry, 'was issued to another caller (API key)')
      if (now >= claims.exp) {
        throw refusal(
          'approval_expired',
          entry,
          `expired at ${new Date(claims.exp).toISOString()}; re-post the call without it to have it held again`,
        )
      }
      const call = options.calls.find((each) => each.id === claims.call)
      if (call === undefined) {
        throw refusal('approval_mismatch', entry, `was issued for call ${quote(claims.call)}, and no call of this payload has that id`)
      }
      if (call.name !== claims.tool) {
        throw refusal(
          'approval_mismatch',
          entry,
          `was issued for a call of ${quote(claims.tool)}; call ${quote(call.id)} calls ${quote(call.name)}`,
        )
      }
      if (decided.has(call.id)) {
        throw new RequestError('invalid_payload', `Two decisions name call ${quote(call.id)}; give one per call.`, { path })
      }
      decided.add(call.id)
      return entry
    })
  }
}

/** A decision whose token toolgate signed, for this caller, unexpired, naming a call of the payload. */
export interface VerifiedDecision extends Decision {
  claims: ApprovalClaims
  /** Its token's place in the body, for a refusal. */
  path: string
}

/**
 * The approvals of one request, as the executor's gate: each call that needs approval is held
 * unless a decision names it; a decided call is checked against its token (tool, arguments as
 * validated, policy) and then runs (approved, perhaps with edited arguments) or is answered
 * rejected_by_approver. The tokens used are recorded as used by this request, or, `within` an
 * execution (an Idempotency-Key's), by that execution: its retries may use them again, since the
 * execution runs each call at most once.
 */
export class RequestApprovals implements CallGate {
  /** A digest of the decisions, which an Idempotency-Key is bound to with the calls; undefined without any. */
  readonly digest: string | undefined
  readonly #approvals: Approvals
  readonly #options: RequestApprovalsOptions
  readonly #decisions: Map<string, VerifiedDecision>
  /** Who uses its tokens: the execution given, or this request, named when it first uses one. */
  #holder: string | undefined

  constructor(approvals: Approvals, options: RequestApprovalsOptions, decisions: readonly VerifiedDecision[], holder?: string) {
    this.#approvals = approvals
    this.#options = options
    this.#decisions = new Map(decisions.map((decision) => [decision.claims.call, decision]))
    this.#holder = holder
    this.digest =
      decisions.length === 0
        ? undefined
        : createHash('sha256')
            .update(canonicalJson(decisions.map(({ token, decision, reason, arguments: edited }) => ({ token, decision, reason, edited }))))
            .digest('hex')
  }

  /** The same approvals, their tokens' uses recorded as the execution `id`'s. */
  within(id: string): RequestApprovals {
    return new RequestApprovals(this.#approvals, this.#options, [...this.#decisions.values()], `execution:${id}`)
  }

  review(prepared: readonly PreparedCall[], limits: ArgumentLimits): Reviewed | Promise<Reviewed> {
    const { caller, keyApproves } = this.#options
    const enabled = this.#approvals.enabled
    const reviewed = [...prepared]
    const used: VerifiedDecision[] = []
    for (const [index, entry] of prepared.entries()) {
      // A call that cannot run (unknown tool, bad arguments, forbidden) answers that; a decision about it is not used.
      if (entry.error !== undefined) continue
      const { call, tool } = entry
      const reason = approvalReasonOf(tool, keyApproves, enabled)
      const decision = this.#decisions.get(call.id)
      if (decision === undefined) {
        if (reason === undefined) continue
        reviewed[index] = enabled
          ? {
              call,
              tool,
              error: new CallError('awaiting_approval', holdMessage(tool, reason)),
              approval: this.#approvals.issue({
                sub: caller,
                tool: tool.name,
                call: call.id,
                args: argumentsDigest(entry.args),
                pol: approvalPolicyVersion(tool, keyApproves),
              }),
            }
          : { call, tool, error: new CallError('approval_unavailable', unavailableMessage(tool)) }
        continue
      }
      if (decision.claims.args !== argumentsDigest(entry.args)) {
        throw refusal(
          'approval_mismatch',
          decision,
          `was issued for other arguments than call ${quote(call.id)} has now; re-post the arguments approval was asked for, and put edits in the decision's arguments`,
        )
      }
      if (reason === undefined || decision.claims.pol !== approvalPolicyVersion(tool, keyApproves)) {
        throw refusal(
          'approval_policy_changed',
          decision,
          `was issued under another approval policy of ${quote(tool.name)} than the one in force; re-post the call without it`,
        )
      }
      if (decision.decision === 'reject') {
        reviewed[index] = { call, tool, error: new CallError('rejected_by_approver', rejectionMessage(tool, decision.reason)) }
      } else if (decision.arguments !== undefined) {
        const edited = checkArguments({ ...call, arguments: decision.arguments }, tool, limits)
        if (edited.error !== undefined) {
          // Nothing ran, and the token stays unused: the approver may send a valid edit with it.
          const error = new CallError('invalid_arguments', `the arguments a human approver edited were refused: ${edited.error.message}`)
          reviewed[index] = { call, tool, error }
          continue
        }
        reviewed[index] = edited
      }
      used.push(decision)
    }
    if (used.length === 0) return { prepared: reviewed, undo: () => Promise.resolve() }
    this.#holder ??= `request:${randomUUID()}`
    return this.#approvals.use(used, this.#holder).then((undo) => ({ prepared: reviewed, undo }))
  }
}

/**
 * The gate of a batch that came by a way that carries no decisions (the executor's callers other
 * than POST /execute, an executor used without HTTP): a call whose tool says it needs approval is
 * answered approval_unavailable, never run unapproved. `enabled`: approvals are configured, and
 * destructive tools need approval too; `keyApproves`: the tools the caller's key wants approved.
 */
export function withoutDecisions(enabled: boolean, keyApproves?: ReadonlySet<string>): CallGate {
  return {
    review: (prepared) => {
      const reviewed = prepared.map((entry): PreparedCall => {
        if (entry.error !== undefined || approvalReasonOf(entry.tool, keyApproves, enabled) === undefined) return entry
        const message = `${entry.tool.name} needs a human's approval before it runs, which cannot be given on this route (only POST /execute carries decisions): this call did not run.`
        return { call: entry.call, tool: entry.tool, error: new CallError('approval_unavailable', message) }
      })
      return { prepared: reviewed, undo: () => Promise.resolve() }
    },
  }
}

function refusal(code: RequestErrorCode, decision: VerifiedDecision, why: string): RequestError {
  return new RequestError(code, `The approval token at ${decision.path} ${why}.`, { path: decision.path })
}

function quote(text: string): string {
  return JSON.stringify(clipped(text, maxQuotedChars))
}

const becauseOf: Record<ApprovalReason, string> = {
  key: ' (the policy of the API key calling it)',
  tool: '',
  destructive: ' (it is marked destructive)',
}

function holdMessage(tool: Tool, reason: ApprovalReason): string {
  return `${tool.name} needs a human's approval before it runs${becauseOf[reason]}: this call has not run, and awaits their decision. Do not call it again meanwhile; its result comes once they have decided.`
}

function unavailableMessage(tool: Tool): string {
  return `${tool.name} needs a human's approval before it runs, and approvals are not enabled on this gateway (TOOLGATE_APPROVAL_SECRETS is unset): this call did not run.`
}

function rejectionMessage(tool: Tool, reason: string | undefined): string {
  const given = reason === undefined || reason.trim() === '' ? 'They gave no reason.' : `Their reason: ${reason}`
  return `a human reviewer rejected this call of ${tool.name}; it did not run. ${given}`
}

/**
 * Takes the decisions out of a request body before the provider's schema reads it (no provider
 * has a top-level `approvals`): undefined when there are none, or the body is not an object (a
 * stream of events, raw or as an array, carries none).
 */
export function takeDecisions(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.hasOwn(body, decisionsField)) return undefined
  const fields = body as Record<string, unknown>
  const decisions = fields[decisionsField]
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the field is a constant
  delete fields[decisionsField]
  return decisions
}
