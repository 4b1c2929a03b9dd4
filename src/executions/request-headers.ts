import { createHash } from 'node:crypto'
import { RequestError } from '../errors.ts'
import type { RawToolCall } from '../providers/index.ts'

export const maxIdempotencyKeyChars = 255

/**
 * The Idempotency-Key header (IETF httpapi draft: a structured-field string, `"..."`); a bare
 * token is taken too, as most clients send one. Printable ASCII, 1 to 255 characters.
 */
export function idempotencyKeyOf(header: string | string[] | undefined, where: KeyPlace = headerPlace): string | undefined {
  if (header === undefined) return undefined
  if (Array.isArray(header)) throw invalidKey(where, 'it was sent more than once')
  let key = header.trim()
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1).replace(/\\(["\\])/g, '$1')
  if (key === '') throw invalidKey(where, 'it is empty')
  if (key.length > maxIdempotencyKeyChars)
    throw invalidKey(where, `it is ${String(key.length)} characters long, over ${String(maxIdempotencyKeyChars)}`)
  if (!/^[\x20-\x7e]+$/.test(key)) throw invalidKey(where, 'it holds characters other than printable ASCII')
  return key
}

/** Where a key came from, for the error about it: the header, or an MCP request's `_meta`. */
export interface KeyPlace {
  name: string
  path: string
}

const headerPlace: KeyPlace = { name: 'The Idempotency-Key header', path: 'headers.idempotency-key' }

function invalidKey(where: KeyPlace, why: string): RequestError {
  return new RequestError('invalid_idempotency_key', `${where.name} is not usable: ${why}.`, { path: where.path })
}

/** What the Prefer header (RFC 7240) asks of the answer: `respond-async`, and `wait=<seconds>`. */
export interface Preferences {
  respondAsync: boolean
  waitSeconds: number | undefined
}

/** Preferences toolgate does not know are ignored, as RFC 7240 says; a malformed wait is too. */
export function preferencesOf(header: string | string[] | undefined): Preferences {
  const preferences: Preferences = { respondAsync: false, waitSeconds: undefined }
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header]
  for (const token of values.flatMap((value) => value.split(','))) {
    const [name = '', value] =
      token
        .split(';')[0]
        ?.split('=')
        .map((part) => part.trim()) ?? []
    const lowered = name.toLowerCase()
    if (lowered === 'respond-async') preferences.respondAsync = true
    else if (lowered === 'wait' && value !== undefined && /^\d{1,9}$/.test(value)) preferences.waitSeconds = Number(value)
  }
  return preferences
}

/** SHA-256 of a batch's calls (ids, names, arguments) and of its approvals' digest, if any: what an Idempotency-Key is bound to. */
export function callsDigest(calls: readonly RawToolCall[], approvalsDigest?: string): string {
  const hash = createHash('sha256')
  for (const call of calls) hash.update(JSON.stringify([call.assignedId ? null : call.id, call.name, call.arguments])).update('\n')
  if (approvalsDigest !== undefined) hash.update(`approvals ${approvalsDigest}\n`)
  return hash.digest('hex')
}

/** The key of one call of a keyed batch, as its tool sends it downstream: the same on every retry, different for each call. */
export function callKeyOf(owner: string, key: string, index: number): string {
  return createHash('sha256')
    .update(`${owner}\n${key}\n${String(index)}`)
    .digest('base64url')
    .slice(0, 32)
}
