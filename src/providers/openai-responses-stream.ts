import { z } from 'zod'

/** Any event: its type first, to tell which one it is (made once, not per event). */
const typedEvent = z.looseObject({ type: z.string() })

type Path = PropertyKey[]

export const outputItemSchema = z.looseObject({ type: z.string() })
export type OutputItem = z.output<typeof outputItemSchema>

/** An output item where it sits in the body; `unfinished` when the stream never finished it, with where and why. */
export interface PlacedItem {
  item: OutputItem
  at: Path
  unfinished?: { at: Path; message: string }
}

const outputIndex = z.int().min(0)
const itemEvent = z.object({ output_index: outputIndex, item: outputItemSchema })
const argumentsDone = z.object({ output_index: outputIndex, arguments: z.string() })
const responseSnapshot = z.object({ response: z.object({ output: z.array(outputItemSchema) }) })

/** An event of a Responses API stream: a stream holds one at least. */
export const isResponsesEvent = (event: unknown): boolean =>
  typeof event === 'object' && event !== null && 'type' in event && typeof event.type === 'string' && event.type.startsWith('response.')

/**
 * The output items of a streamed Responses API response, put back together as the SDK's
 * `ResponseStream` does: `response.output_item.added` announces an item at its `output_index`,
 * `response.function_call_arguments.done` gives a function call's arguments whole,
 * `response.output_item.done` gives the finished item, and a final
 * `response.completed` (or `response.incomplete`) holds the whole output, which wins item by item
 * (a final event with an empty output loses nothing). The `.delta` events are passed over: a call
 * is run only once an event gives its arguments whole, and every such event has them all. Other
 * events (text, reasoning, keep-alives) carry nothing a call needs.
 *
 * A stream cut short (no final event) still gives the items it finished; an item it announced but
 * never finished is marked `unfinished`, so that a call in it is refused rather than run on half
 * its arguments or dropped. A failed response (`response.failed`, an `error` event) is refused:
 * the client retries the request, and the calls of a response it throws away must not run.
 * Undefined when the events are not such a stream or one is malformed (the issues are in `context`).
 */
export function streamedOutput(events: readonly unknown[], context: z.core.$RefinementCtx): PlacedItem[] | undefined {
  if (!events.some(isResponsesEvent)) {
    context.issues.push({ code: 'custom', message: 'not a Responses API stream: no response.* event', input: events, path: [] })
    return undefined
  }
  const items = new Map<number, PlacedItem>()
  const issuesBefore = context.issues.length
  const refuse = (path: Path, message: string) => {
    context.issues.push({ code: 'custom', message, input: events, path })
  }
  const read = <T>(schema: z.ZodType<T>, at: number): T | undefined => {
    const parsed = schema.safeParse(events[at])
    if (parsed.success) return parsed.data
    for (const issue of parsed.error.issues) refuse([at, ...issue.path], issue.message)
    return undefined
  }
  const announced = (index: number, at: number): PlacedItem | undefined => {
    const state = items.get(index)
    if (state === undefined) refuse([at, 'output_index'], `no response.output_item.added event announced output_index ${String(index)}`)
    return state
  }

  for (const at of events.keys()) {
    const typed = read(typedEvent, at)
    switch (typed?.type) {
      case 'response.output_item.added': {
        const added = read(itemEvent, at)
        if (added === undefined || items.has(added.output_index)) break
        const message = `the stream ends before this call is done: no response.output_item.done event for output_index ${String(added.output_index)}`
        items.set(added.output_index, { item: { ...added.item }, at: [at, 'item'], unfinished: { at: [at, 'output_index'], message } })
        break
      }
      case 'response.function_call_arguments.done': {
        const done = read(argumentsDone, at)
        const state = done === undefined ? undefined : announced(done.output_index, at)
        if (done === undefined || state?.item.type !== 'function_call') break
        state.item.arguments = done.arguments
        delete state.unfinished
        break
      }
      case 'response.output_item.done': {
        const done = read(itemEvent, at)
        if (done !== undefined) items.set(done.output_index, { item: done.item, at: [at, 'item'] })
        break
      }
      case 'response.completed':
      case 'response.incomplete': {
        const snapshot = read(responseSnapshot, at)
        for (const [index, item] of (snapshot?.response.output ?? []).entries()) {
          const itemAt = [at, 'response', 'output', index]
          // An incomplete response marks the item it stopped in.
          const unfinished =
            item.status === 'in_progress' || item.status === 'incomplete'
              ? { at: [...itemAt, 'status'], message: `this call is ${item.status}: the response stopped before it was done` }
              : undefined
          items.set(index, unfinished === undefined ? { item, at: itemAt } : { item, at: itemAt, unfinished })
        }
        break
      }
      case 'response.failed':
        refuse([at, 'type'], 'the response failed: its calls are not run; retry the request')
        break
      case 'error':
        refuse([at, 'type'], 'the stream reports an error: the response did not finish and its calls are not run; retry the request')
        break
      default:
        break
    }
  }
  if (context.issues.length > issuesBefore) return undefined
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, state]) => state)
}
