import { z } from 'zod'

const answerItYourself = 'answer it yourself and send toolgate the other calls'

/**
 * A tool call's `type`: "function", or absent (Mistral writes none), or null (the openai Python
 * SDK's `model_dump()` writes null for a field the server never sent). A custom tool's input is
 * free-form text in a grammar of the client's own declaring (toolgate declares function tools
 * only), while toolgate's tools take a JSON object of arguments: reading the text as one would be
 * a guess, and passing the call over would leave it unanswered, so it is refused by name.
 */
export const functionCallType = z
  .literal('function', {
    error: (issue) =>
      issue.input === 'custom'
        ? `a custom tool call takes free-form text, and toolgate's tools take a JSON object of arguments: ${answerItYourself}, or declare the tool as a function tool (GET /tools?format=openai)`
        : 'expected "function": toolgate runs function tool calls only',
  })
  .nullish()

const legacyCallRefused = `a legacy function_call is answered by a role "function" message, which toolgate does not write: request tools instead of functions (the calls then come as tool_calls), or ${answerItYourself}`

/**
 * The legacy `function_call` of a message or delta: null or absent, as the openai Python SDK's
 * `model_dump()` writes it. A call there is answered by a role "function" message naming the
 * function, without id, which toolgate does not write: refused, so that it is never passed over.
 * Reported at its name when it has one, which reaches deeper than the fields another shape of
 * body trips on (an Anthropic message's `content`), so that the refusal is the issue named.
 */
export const noLegacyFunctionCall = z
  .unknown()
  .optional()
  .superRefine((call, context) => {
    if (call === undefined || call === null) return
    const path = typeof call === 'object' && 'name' in call ? ['name'] : []
    context.addIssue({ code: 'custom', message: legacyCallRefused, input: call, path })
  })

// The openai Python SDK's model_dump() of a chunk writes null for each field a fragment did not carry.
const toolCallFragmentSchema = z.object({
  // Absent where the server sends each call whole (Mistral), so null in such a dump.
  index: z.int().min(0).nullish(),
  id: z.string().nullish(),
  type: functionCallType,
  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
})

/** One chunk of a streamed Chat Completions response, as far as tool calls go. */
const chatCompletionChunkSchema = z.object({
  object: z.literal('chat.completion.chunk'),
  choices: z.array(
    z.object({
      index: z.int().optional(),
      delta: z.object({ tool_calls: z.array(toolCallFragmentSchema).nullish(), function_call: noLegacyFunctionCall }).nullish(),
    }),
  ),
})

/**
 * A chunk without choices, whatever its `object`: Azure OpenAI opens a stream with its
 * prompt_filter_results chunk (`"object": ""`), and the closing usage chunk has no choices either.
 */
const choicelessChunkSchema = z.object({ object: z.unknown().optional(), choices: z.tuple([]) })

/** A chunk of a streamed Chat Completions response, or one without choices before or after them. */
export const streamedChunkSchema = z.union([chatCompletionChunkSchema, choicelessChunkSchema])

export type StreamedChunk = z.output<typeof streamedChunkSchema>

const isCompletionChunk = (chunk: StreamedChunk) => chunk.object === 'chat.completion.chunk'

/**
 * The position of a chunk that is no `chat.completion.chunk` though it stands between two that
 * are (only a leading or trailing one may be of another object), or of the first chunk when none
 * is one: such an array is no Chat Completions stream.
 */
export function misplacedChunk(chunks: readonly StreamedChunk[]): number | undefined {
  const first = chunks.findIndex(isCompletionChunk)
  if (first === -1) return 0
  const last = chunks.findLastIndex(isCompletionChunk)
  const between = chunks.slice(first, last + 1).findIndex((chunk) => !isCompletionChunk(chunk))
  return between === -1 ? undefined : first + between
}

export interface ReassembledCall {
  index: number
  /** Where its first fragment is: chunk, choice and fragment positions. */
  firstSeen: [chunk: number, choice: number, fragment: number]
  id: string | undefined
  name: string | undefined
  arguments: string
  /** A fragment named it "" (later fragments may, on some servers, after the real name). */
  namedEmpty?: true
}

type ToolCallFragment = z.output<typeof toolCallFragmentSchema>

/** An id or name as a fragment gives it: later fragments may say null, or "" (Alibaba's ids, GLM's names on Mistral). */
const given = (value: string | null | undefined): string | undefined => (value === null || value === '' ? undefined : value)

/**
 * The index of a fragment that has none (Mistral sends each call whole, without index, and its
 * own SDK takes 0): the call being assembled, unless the fragment brings an id of its own, which
 * starts a call after the others, so that two whole calls stay two.
 */
function indexOf(fragment: ToolCallFragment, current: ReassembledCall | undefined, calls: ReadonlyMap<number, ReassembledCall>): number {
  if (fragment.index !== undefined && fragment.index !== null) return fragment.index
  if (current === undefined) return 0
  const id = given(fragment.id)
  if (id === undefined || current.id === undefined || current.id === id) return current.index
  return Math.max(...calls.keys()) + 1
}

/**
 * Puts streamed tool calls back together by their `index`: the id and name come with a call's
 * first fragment only (later ones may say null or ""), its arguments arrive in pieces that may
 * split a string, an escape or a surrogate pair anywhere. Only choice 0 counts; a chunk with no
 * choices (a content filter's, the closing usage chunk) is passed over.
 */
export function reassembleToolCalls(chunks: readonly StreamedChunk[]): ReassembledCall[] {
  const calls = new Map<number, ReassembledCall>()
  let current: ReassembledCall | undefined
  for (const [chunkAt, chunk] of chunks.entries()) {
    for (const [choiceAt, choice] of chunk.choices.entries()) {
      if ((choice.index ?? 0) !== 0) continue
      for (const [fragmentAt, fragment] of (choice.delta?.tool_calls ?? []).entries()) {
        const index = indexOf(fragment, current, calls)
        let call = calls.get(index)
        if (call === undefined) {
          call = { index, firstSeen: [chunkAt, choiceAt, fragmentAt], id: undefined, name: undefined, arguments: '' }
          calls.set(index, call)
        }
        call.id ??= given(fragment.id)
        call.name ??= given(fragment.function?.name)
        // A name only ever given as "" is the model's, and answered unknown_tool like any name no tool has.
        if (fragment.function?.name === '') call.namedEmpty = true
        call.arguments += fragment.function?.arguments ?? ''
        current = call
      }
    }
  }
  for (const call of calls.values()) if (call.name === undefined && call.namedEmpty) call.name = ''
  return [...calls.values()].sort((a, b) => a.index - b.index)
}
