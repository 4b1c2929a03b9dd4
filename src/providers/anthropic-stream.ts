import { z } from 'zod'

/** Any event: its type first, to tell which one it is (made once, not per event). */
const typedEvent = z.looseObject({ type: z.string() })

type Path = PropertyKey[]

const contentBlockSchema = z.looseObject({ type: z.string() })
type ContentBlock = z.output<typeof contentBlockSchema>

/** A content block of a streamed message as its events left it, and where it sits among them. */
export interface StreamedBlock {
  block: ContentBlock
  /** Where its content_block_start event put it. */
  at: Path
  /** The input_json_delta pieces joined, when there were any (the start block's input stands otherwise). */
  json?: string
  /** Set when no content_block_stop closed it: where and why. */
  unfinished?: { at: Path; message: string }
}

const blockIndex = z.int().min(0)
const messageStart = z.object({ message: z.object({ content: z.array(contentBlockSchema).optional() }) })
const blockStart = z.object({ index: blockIndex, content_block: contentBlockSchema })
const blockDelta = z.object({ index: blockIndex, delta: z.looseObject({ type: z.string() }) })
const inputJsonDelta = z.object({ partial_json: z.string() })
const blockStop = z.object({ index: blockIndex })

const messageEventTypes = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
])
/** An event of a Messages API stream that a stream holds one of at least. */
export const isMessageEvent = (event: unknown): boolean =>
  typeof event === 'object' && event !== null && 'type' in event && typeof event.type === 'string' && messageEventTypes.has(event.type)

/**
 * The content blocks of a streamed Messages API response, put back together as the SDK's
 * `MessageStream` does: `message_start` may hold whole blocks already, `content_block_start` opens
 * a block at its `index`, a tool block's input arrives as `input_json_delta.partial_json` pieces
 * that may split anywhere and are joined (no piece, or only empty ones, means `{}`),
 * `content_block_stop` closes it. `message_delta`, `message_stop` and `ping` carry nothing a call
 * needs. A repeated `message_start` (some proxies send one twice) adds nothing; a second message
 * in one stream shows as a block index opened twice, which is refused.
 *
 * A stream cut short still gives the blocks it closed; a block it never closed is marked, so that
 * a tool_use in it is refused rather than run on half its input or dropped. An `error` event
 * (overloaded mid-stream...) is refused: the client retries, and the calls of a message it throws
 * away must not run. Undefined when the events are not such a stream or one is malformed (the
 * issues are in `context`).
 */
export function streamedContent(events: readonly unknown[], context: z.core.$RefinementCtx): StreamedBlock[] | undefined {
  if (!events.some(isMessageEvent)) {
    context.issues.push({
      code: 'custom',
      message: 'not an Anthropic Messages API stream: no message_start or content_block_* event',
      input: events,
      path: [],
    })
    return undefined
  }
  const blocks = new Map<number, StreamedBlock>()
  const issuesBefore = context.issues.length
  const refuse = (path: Path, message: string) => {
    context.issues.push({ code: 'custom', message, input: events, path })
  }
  const read = <T>(schema: z.ZodType<T>, value: unknown, path: Path): T | undefined => {
    const parsed = schema.safeParse(value)
    if (parsed.success) return parsed.data
    for (const issue of parsed.error.issues) refuse([...path, ...issue.path], issue.message)
    return undefined
  }

  for (const [at, event] of events.entries()) {
    const typed = read(typedEvent, event, [at])
    switch (typed?.type) {
      case 'message_start': {
        // Its content is usually empty; blocks it holds (programmatic tool calling) come whole, and later blocks' indexes follow them.
        const start = read(messageStart, event, [at])
        for (const [index, block] of (start?.message.content ?? []).entries()) {
          blocks.set(index, { block, at: [at, 'message', 'content', index] })
        }
        break
      }
      case 'content_block_start': {
        const start = read(blockStart, event, [at])
        if (start === undefined) break
        if (blocks.has(start.index)) refuse([at, 'index'], `a second content_block_start for index ${String(start.index)}`)
        else {
          const message = `the stream ends before this block is done: no content_block_stop event for index ${String(start.index)}`
          blocks.set(start.index, { block: start.content_block, at: [at, 'content_block'], unfinished: { at: [at, 'index'], message } })
        }
        break
      }
      case 'content_block_delta': {
        const delta = read(blockDelta, event, [at])
        if (delta?.delta.type !== 'input_json_delta') break
        const piece = read(inputJsonDelta, delta.delta, [at, 'delta'])
        const block = blocks.get(delta.index)
        if (block === undefined) refuse([at, 'index'], `no content_block_start opened index ${String(delta.index)}`)
        else if (piece !== undefined) block.json = (block.json ?? '') + piece.partial_json
        break
      }
      case 'content_block_stop': {
        const stop = read(blockStop, event, [at])
        const block = stop === undefined ? undefined : blocks.get(stop.index)
        if (block !== undefined) delete block.unfinished
        break
      }
      case 'error':
        refuse([at, 'type'], 'the stream reports an error: the message did not finish and its calls are not run; retry the request')
        break
      default:
        break
    }
  }
  if (context.issues.length > issuesBefore) return undefined
  return [...blocks.entries()].sort(([a], [b]) => a - b).map(([, block]) => block)
}
