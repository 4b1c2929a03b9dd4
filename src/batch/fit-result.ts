import { CallError, describeThrown } from '../errors.ts'

/**
 * A tool's result made fit for the reply: the string the model reads (a string as it is, anything
 * else as JSON), cut to `maxBytes` if longer, and a copy of the output taken now. A value JSON
 * cannot carry is the tool's error.
 */
export function fitResult(
  toolName: string,
  output: unknown,
  maxBytes: number,
): { output: unknown; content: string; truncatedFromBytes?: number } | CallError {
  const serialized = serialize(toolName, output)
  if (serialized instanceof CallError) return serialized
  return detached(truncate(serialized, maxBytes))
}

/** The output and the string the model reads; a value JSON cannot carry is the tool's error. */
function serialize(toolName: string, output: unknown): { output: unknown; content: string } | CallError {
  if (typeof output === 'string') return { output, content: output }
  if (output === undefined) return { output: null, content: 'null' }
  try {
    const content = JSON.stringify(output) as string | undefined
    if (content === undefined) throw new TypeError(`a ${typeof output} is not JSON`)
    return { output, content }
  } catch (error) {
    return new CallError('invalid_result', `${toolName} returned a value that cannot be serialized as JSON: ${describeThrown(error)}`)
  }
}

/**
 * The reply carries a copy of an object result taken now: the tool may go on changing (or make a
 * cycle in) the object it returned, and the reply is serialized later. A cut result is a string
 * already, and is not parsed back.
 */
function detached<Fitted extends { output: unknown; content: string; truncatedFromBytes?: number }>(fitted: Fitted): Fitted {
  if (fitted.truncatedFromBytes !== undefined || typeof fitted.output !== 'object' || fitted.output === null) return fitted
  return { ...fitted, output: JSON.parse(fitted.content) as unknown }
}

const truncationNote = (originalBytes: number, limit: number) =>
  `\n[truncated by toolgate: the result was ${String(originalBytes)} bytes, the limit is ${String(limit)}]`

/**
 * Cuts content longer than `maxBytes` (UTF-8) to fit, note included, on a character boundary.
 * The model reads the start of the result and that it was cut; `output` becomes that same text.
 */
export function truncate(
  serialized: { output: unknown; content: string },
  maxBytes: number,
): { output: unknown; content: string; truncatedFromBytes?: number } {
  const { content } = serialized
  // Cheap first: a UTF-8 character is at most 3 bytes per UTF-16 unit.
  if (content.length * 3 <= maxBytes) return serialized
  const originalBytes = Buffer.byteLength(content)
  if (originalBytes <= maxBytes) return serialized
  const note = truncationNote(originalBytes, maxBytes)
  const room = Math.max(0, maxBytes - Buffer.byteLength(note))
  const bytes = Buffer.from(content.slice(0, room))
  let end = Math.min(room, bytes.length)
  // Back off to the start of a character: UTF-8 continuation bytes are 0b10xxxxxx.
  while (end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  const cut = bytes.subarray(0, end).toString('utf8') + note
  return { output: cut, content: cut, truncatedFromBytes: originalBytes }
}
