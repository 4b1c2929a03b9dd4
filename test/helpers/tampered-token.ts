/** An approval token with one character of its claims (`part` 1) or signature (`part` 2) changed. */
export function flipped(token: string, part: 1 | 2): string {
  const parts = token.split('.')
  const text = parts[part] ?? ''
  const at = Math.floor(text.length / 2)
  parts[part] = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
  return parts.join('.')
}
