import { createHash, timingSafeEqual } from 'node:crypto'

/** What an `Authorization: Bearer <token>` header is compared as: its SHA-256, so every comparison takes the same time. */
export function bearerDigest(token: string): Buffer {
  return headerDigest(`Bearer ${token}`)
}

/** The digest of an Authorization header as sent (an absent one is the empty string's). */
export function headerDigest(header: string | undefined): Buffer {
  return createHash('sha256')
    .update(header ?? '')
    .digest()
}

/** Whether two digests are equal, in constant time. */
export function sameDigest(given: Buffer, expected: Buffer): boolean {
  return timingSafeEqual(given, expected)
}
