import { CallError, describeThrown } from '../errors.ts'
import {
  binaryOf,
  describeBinary,
  HandedOver,
  renderBlock,
  renderText,
  RichContent,
  type BinaryBlock,
  type ContentBlock,
} from '../tools/content.ts'

/** A result made fit for the reply; `blocks` only for a tool that returned content blocks. */
export interface FittedResult {
  output: unknown
  content: string
  /** The blocks the model reads, fitted to the limit; `content` is their text rendering. */
  blocks?: readonly ContentBlock[]
  truncatedFromBytes?: number
}

/**
 * A tool's result made fit for the reply: the string the model reads (a string as it is, content
 * blocks as their text rendering, anything else as JSON), cut to `maxBytes` if longer, and a copy
 * of the output taken now. A value JSON cannot carry is the tool's error.
 */
export function fitResult(toolName: string, output: unknown, maxBytes: number): FittedResult | CallError {
  if (output instanceof RichContent) return fitRichContent(toolName, output, maxBytes)
  // JSON data nothing else holds: a copy would be the same data.
  if (output instanceof HandedOver) {
    const serialized = serialize(toolName, output.value)
    return serialized instanceof CallError ? serialized : truncate(serialized, maxBytes)
  }
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
 * already, and is not parsed back. `fitted` is this call's own, made by serialize or truncate: it
 * is completed in place.
 */
function detached<Fitted extends { output: unknown; content: string; truncatedFromBytes?: number }>(fitted: Fitted): Fitted {
  if (fitted.truncatedFromBytes !== undefined || typeof fitted.output !== 'object' || fitted.output === null) return fitted
  fitted.output = JSON.parse(fitted.content) as unknown
  return fitted
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
  const cut = cutToFit(content, maxBytes, truncationNote(originalBytes, maxBytes))
  return { output: cut, content: cut, truncatedFromBytes: originalBytes }
}

/** The start of `text` and `note` after it, in at most `maxBytes` (UTF-8), cut on a character boundary. */
function cutToFit(text: string, maxBytes: number, note: string): string {
  const room = Math.max(0, maxBytes - Buffer.byteLength(note))
  const bytes = Buffer.from(text.slice(0, room))
  let end = Math.min(room, bytes.length)
  // Back off to the start of a character: UTF-8 continuation bytes are 0b10xxxxxx.
  while (end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString('utf8') + note
}

/**
 * Content blocks fitted to the limit. When they all fit, `output` is a copy of the tool's whole
 * output; when some did not, output and content hold the text rendering of what was kept, as for a
 * cut result.
 */
function fitRichContent(toolName: string, rich: RichContent, maxBytes: number): FittedResult | CallError {
  const fitted = fitBlocks(rich.blocks, maxBytes)
  const content = renderText(fitted.blocks)
  if (fitted.originalBytes !== undefined)
    return { output: content, content, blocks: fitted.blocks, truncatedFromBytes: fitted.originalBytes }
  const output = serialize(toolName, rich.output)
  if (output instanceof CallError) return output
  return { output: detached(output).output, content, blocks: fitted.blocks }
}

/**
 * What a block counts against the limit: its text rendering and the newline after it (what a
 * text-only provider reads), and the base64 of the bytes it carries (what a provider that takes
 * them is sent). The blocks of a result that fits cost at most the limit, and so does their text.
 */
function costOf(block: ContentBlock): number {
  return Buffer.byteLength(renderBlock(block)) + 1 + (binaryOf(block)?.data.length ?? 0)
}

/** Room kept for the note that counts the blocks left out at the end: longer than it can be. */
const leftOutNoteRoom = 128

const leftOutNote = (count: number, limit: number) =>
  `[toolgate left out ${String(count)} more blocks: the result limit of ${String(limit)} bytes was reached]`

const droppedNote = (binary: BinaryBlock, limit: number) =>
  `[${describeBinary(binary)}: left out by toolgate, it is larger than the room left under the result limit of ${String(limit)} bytes]`

/**
 * The blocks, in order, while they fit in `maxBytes`: a binary block that does not fit is replaced
 * by a note saying what it was and why it is missing; a text that does not fit is cut, marked as
 * cut; the blocks after the room ran out are counted in one note at the end. `originalBytes` is
 * set when anything was lost.
 */
function fitBlocks(blocks: readonly ContentBlock[], maxBytes: number): { blocks: ContentBlock[]; originalBytes?: number } {
  const costs = blocks.map(costOf)
  const totalBytes = costs.reduce((sum, cost) => sum + cost, 0)
  if (totalBytes <= maxBytes) return { blocks: [...blocks] }
  const kept: ContentBlock[] = []
  let remaining = maxBytes - leftOutNoteRoom
  let leftOut = 0
  const keep = (block: ContentBlock, cost: number) => {
    kept.push(block)
    remaining -= cost
  }
  for (const [index, block] of blocks.entries()) {
    const cost = costs[index] ?? 0
    const binary = binaryOf(block)
    const note = binary === undefined ? truncationNote(totalBytes, maxBytes) : droppedNote(binary, maxBytes)
    const noteBytes = Buffer.byteLength(note) + 1
    if (leftOut === 0 && cost <= remaining) {
      keep(block, cost)
    } else if (leftOut === 0 && noteBytes <= remaining) {
      const text = binary === undefined ? cutToFit(renderBlock(block), remaining - 1, note) : note
      keep({ type: 'text', text }, binary === undefined ? remaining : noteBytes)
    } else {
      leftOut++
    }
  }
  if (leftOut > 0) kept.push({ type: 'text', text: leftOutNote(leftOut, maxBytes) })
  return { blocks: kept, originalBytes: totalBytes }
}
