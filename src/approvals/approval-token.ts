import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'

/** The prefix of every approval token: its format's name and version. */
const tokenPrefix = 'tga1.'
const macBytes = 32

/** What an approval token is bound to. Signed, not secret: the caller may read it. */
export const approvalClaimsSchema = z.strictObject({
  /** The token's own id: what its one use is recorded under. */
  jti: z.string().min(1),
  /** The caller it was issued to: the API key's name, or `anonymous`. */
  sub: z.string(),
  tool: z.string(),
  /** The call id, as the payload gave it (or as toolgate numbered it). */
  call: z.string(),
  /** argumentsDigest of the arguments as validated. */
  args: z.string(),
  /** The approval policy of the tool for this caller when the token was issued (approvalPolicyOf). */
  pol: z.string(),
  /** Expiry, epoch milliseconds. */
  exp: z.int(),
})

export type ApprovalClaims = z.output<typeof approvalClaimsSchema>

/** A new token id: 128 random bits. */
export function newTokenId(): string {
  return randomBytes(16).toString('base64url')
}

/** `tga1.<claims as base64url JSON>.<HMAC-SHA256 of the part before it, base64url>`, signed with `secret`. */
export function signApprovalToken(claims: ApprovalClaims, secret: string): string {
  const body = `${tokenPrefix}${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${body}.${mac(body, secret).toString('base64url')}`
}

export type Verified = { ok: true; claims: ApprovalClaims } | { ok: false; problem: string }

/**
 * The claims of a token signed with one of `secrets` (the first signs, all verify: a secret being
 * rotated out still verifies while it is listed). Every secret is tried, each compared in constant
 * time, so that the time taken tells nothing of which one matched or how close a forgery came.
 */
export function verifyApprovalToken(token: string, secrets: readonly string[]): Verified {
  const dot = token.lastIndexOf('.')
  if (!token.startsWith(tokenPrefix) || dot <= tokenPrefix.length)
    return { ok: false, problem: 'it is not an approval token toolgate issued' }
  const body = token.slice(0, dot)
  const given = Buffer.from(token.slice(dot + 1), 'base64url')
  if (given.length !== macBytes) return { ok: false, problem: 'its signature is malformed' }
  let signed = false
  for (const secret of secrets) {
    if (timingSafeEqual(given, mac(body, secret))) signed = true
  }
  if (!signed) return { ok: false, problem: 'its signature does not match (it was altered, or signed with a secret no longer configured)' }
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(body.slice(tokenPrefix.length), 'base64url').toString('utf8'))
  } catch {
    return { ok: false, problem: 'its claims are not readable' }
  }
  const claims = approvalClaimsSchema.safeParse(decoded)
  return claims.success ? { ok: true, claims: claims.data } : { ok: false, problem: 'its claims are not readable' }
}

function mac(body: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(body).digest()
}

/**
 * SHA-256 (base64url) of a value as canonical JSON: object keys sorted at every depth, so that
 * `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same arguments, however the provider wrote them.
 */
export function argumentsDigest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url')
}

export function canonicalJson(value: unknown): string {
  // JSON.stringify writes nothing for undefined (its type does not say so).
  const json = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item
    // No prototype: a key named __proto__ is kept as a key.
    const sorted = Object.create(null) as Record<string, unknown>
    for (const key of Object.keys(item).sort()) sorted[key] = (item as Record<string, unknown>)[key]
    return sorted
  }) as string | undefined
  return json ?? 'null'
}
