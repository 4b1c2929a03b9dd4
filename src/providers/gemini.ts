import { z } from 'zod'
import { functionCallsAmong, type PartsOfChunk } from './gemini-stream.ts'
import { defineProvider, jsonSchemaObject, type PayloadCalls } from './provider.ts'

// A Python SDK dump writes null for every field unset: null is read as absent throughout.
const candidatesSchema = z.array(
  z.object({
    index: z.int().nullish(),
    content: z.object({ parts: z.array(z.looseObject({})).nullish() }).nullish(),
  }),
)

type Candidates = z.output<typeof candidatesSchema>

/** Where candidate 0's parts are in one response or chunk: the candidate of index 0, the first when none says. */
function partsOf(candidates: Candidates | null | undefined, chunkPath: PropertyKey[]): PartsOfChunk {
  const at = (candidates ?? []).findIndex((candidate) => (candidate.index ?? 0) === 0)
  if (at === -1) return { parts: [], path: chunkPath }
  return { parts: candidates?.[at]?.content?.parts ?? [], path: [...chunkPath, 'candidates', at, 'content', 'parts'] }
}

const generateContentPayload = z
  .object({ candidates: candidatesSchema.min(1) })
  .describe(
    'A Google Gemini generateContent response, as the API writes it or as the Python SDK dumps it (snake_case); the function calls of candidate 0 run.',
  )
  .transform((response, context): PayloadCalls => {
    const calls = functionCallsAmong([partsOf(response.candidates, [])], (_, part) => `gemini_call_${String(part)}`, context)
    return calls === undefined ? z.NEVER : { shape: 'gemini', calls }
  })

const streamedPayload = z
  .array(z.object({ candidates: candidatesSchema.nullish() }))
  .min(1)
  .describe(
    'A streamed Gemini response (streamGenerateContent): its GenerateContentResponse chunks, in order; the calls of every chunk run, a call streamed in partialArgs put back together.',
  )
  .transform((chunks, context): PayloadCalls => {
    if (!chunks.some((chunk) => chunk.candidates !== undefined && chunk.candidates !== null)) {
      context.issues.push({ code: 'custom', message: 'no chunk has candidates, as every Gemini stream does', input: chunks, path: [] })
      return z.NEVER
    }
    const parts = chunks.map((chunk, index) => partsOf(chunk.candidates, [index]))
    const calls = functionCallsAmong(parts, (chunk, part) => `gemini_call_${String(chunk)}_${String(part)}`, context)
    return calls === undefined ? z.NEVER : { shape: 'gemini.stream', calls }
  })

/** Gemini wants an object as a function's response: objects go as they are, anything else under `result`. */
function asObject(output: unknown): Record<string, unknown> {
  return typeof output === 'object' && output !== null && !Array.isArray(output) ? (output as Record<string, unknown>) : { result: output }
}

/** Google Gemini's generateContent: functionCall parts answered by functionResponse parts in one user content. */
export const gemini = defineProvider({
  name: 'gemini',
  payloads: {
    response: { schema: generateContentPayload, described: 'a Gemini generateContent response' },
    streamed: [{ schema: streamedPayload, described: 'a streamed Gemini response (its chunks, or its raw ?alt=sse text)' }],
  },
  answerSchema: z
    .object({
      role: z.literal('user'),
      parts: z.array(
        z.object({
          functionResponse: z.object({ name: z.string(), id: z.string().optional(), response: z.record(z.string(), z.unknown()) }),
        }),
      ),
    })
    .describe('Gemini: one user content holding every functionResponse part'),
  answers: (calls) => {
    if (calls.length === 0) return []
    // One user content after the calls; an id goes back only when the model sent one.
    const parts = calls.map(({ result, assignedId }) => ({
      functionResponse: {
        name: result.name,
        ...(assignedId ? {} : { id: result.id }),
        response: result.ok ? asObject(result.output) : { error: result.error },
      },
    }))
    return [{ role: 'user' as const, parts }]
  },
  declarationsSchema: z
    .array(
      z.object({
        functionDeclarations: z.array(z.object({ name: z.string(), description: z.string(), parametersJsonSchema: jsonSchemaObject })),
      }),
    )
    .describe('format=gemini: one generateContent tool holding every function declaration'),
  // One tool holding every declaration, with the full JSON Schema in parametersJsonSchema.
  declare: (tools) => [
    { functionDeclarations: tools.map(({ name, description, parameters }) => ({ name, description, parametersJsonSchema: parameters })) },
  ],
})
