import { z } from 'zod'

/** One chunk of a streamed Chat Completions response, as far as tool calls go. */
export const chatCompletionChunkSchema = z.object({
  object: z.literal('chat.completion.chunk'),
  choices: z.array(
    z.object({
      index: z.int().optional(),
      delta: z
        .object({
          tool_calls: z
            .array(
              z.object({
                index: z.int().min(0),
                id: z.string().nullish(),
                function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
              }),
            )
            .nullish(),
        })
        .nullish(),
    }),
  ),
})

export type ChatCompletionChunk = z.output<typeof chatCompletionChunkSchema>

export interface ReassembledCall {
  index: number
  /** Where its first fragment is: chunk, choice and fragment positions. */
  firstSeen: [chunk: number, choice: number, fragment: number]
  id: string | undefined
  name: string | undefined
  arguments: string
}

/**
 * Puts streamed tool calls back together by their `index`: the id and name come with a call's
 * first fragment only (later ones may say null), its arguments arrive in pieces that may split a
 * string, an escape or a surrogate pair anywhere. Only choice 0 counts; a chunk with no choices
 * (the closing usage chunk) is passed over.
 */
export function reassembleToolCalls(chunks: readonly ChatCompletionChunk[]): ReassembledCall[] {
  const calls = new Map<number, ReassembledCall>()
  for (const [chunkAt, chunk] of chunks.entries()) {
    for (const [choiceAt, choice] of chunk.choices.entries()) {
      if ((choice.index ?? 0) !== 0) continue
      for (const [fragmentAt, fragment] of (choice.delta?.tool_calls ?? []).entries()) {
        let call = calls.get(fragment.index)
        if (call === undefined) {
          call = { index: fragment.index, firstSeen: [chunkAt, choiceAt, fragmentAt], id: undefined, name: undefined, arguments: '' }
          calls.set(fragment.index, call)
        }
        call.id ??= fragment.id ?? undefined
        call.name ??= fragment.function?.name ?? undefined
        call.arguments += fragment.function?.arguments ?? ''
      }
    }
  }
  return [...calls.values()].sort((a, b) => a.index - b.index)
}
