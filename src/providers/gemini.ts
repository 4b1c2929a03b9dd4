import { z } from 'zod'
import type { AnsweredCall } from '../batch/call-result.ts'
import { binaryOf, renderBlock } from '../tools/content.ts'
import { functionCallsAmong, type PartsOfChunk } from './gemini-stream.ts'
import { defineProvider, isRecord, jsonSchemaObject, type PayloadCalls } from './provider.ts'

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

/** The media types a functionResponse's parts may carry. */
const inlineTypes: readonly string[] = ['image/png', 'image/jpeg', 'image/webp', 'application/pdf']

type InlinePart = { inlineData: { mimeType: string; data: string } }

/**
 * A call's functionResponse fields. For a result in content blocks (an MCP tool's): its
 * structuredContent if it has one, else the text the model reads under `result`, and the images
 * and PDFs among the blocks as parts. Otherwise the output as an object, as before.
 */
function responseOf({ result, content, blocks }: AnsweredCall): { response: Record<string, unknown>; parts?: InlinePart[] } {
  if (!result.ok) return { response: { error: result.error } }
  if (blocks === undefined) return { response: asObject(result.output) }
  const parts: InlinePart[] = []
  const texts: string[] = []
  for (const block of blocks) {
    const binary = binaryOf(block)
    if (binary !== undefined && inlineTypes.includes(binary.mimeType))
      parts.push({ inlineData: { mimeType: binary.mimeType, data: binary.data } })
    else texts.push(renderBlock(block))
  }
  const structured = (result.output as { structuredContent?: unknown } | undefined)?.structuredContent
  const text = parts.length === 0 ? content : texts.filter((each) => each !== '').join('\n')
  const response = structured === undefined ? { result: text } : asObject(structured)
  return parts.length === 0 ? { response } : { response, parts }
}

/** Google Gemini's generateContent: functionCall parts answered by functionResponse parts in one user content. */
export const gemini = defineProvider({
  name: 'gemini',
  payloads: {
    response: {
      schema: generateContentPayload,
      looksLike: (body) => isRecord(body) && Array.isArray(body.candidates) && body.candidates.length > 0,
      described: 'a Gemini generateContent response',
    },
    streamed: [
      {
        schema: streamedPayload,
        // A stream none of whose chunks has candidates is refused.
        looksLike: (body) =>
          Array.isArray(body) && body.some((chunk) => isRecord(chunk) && chunk.candidates !== undefined && chunk.candidates !== null),
        described: 'a streamed Gemini response (its chunks, or its raw ?alt=sse text)',
      },
    ],
  },
  answerSchema: z
    .object({
      role: z.literal('user'),
      parts: z.array(
        z.object({
          functionResponse: z.object({
            name: z.string(),
            id: z.string().optional(),
            response: z.record(z.string(), z.unknown()),
            parts: z
              .array(z.object({ inlineData: z.object({ mimeType: z.string(), data: z.string() }) }))
              .optional()
              .describe('The images and PDFs a tool returned in content blocks (an MCP tool), as Gemini 3 reads them'),
          }),
        }),
      ),
    })
    .describe('Gemini: one user content holding every functionResponse part'),
  answers: (calls) => {
    if (calls.length === 0) return []
    // One user content after the calls; an id goes back only when the model sent one.
    const parts = calls.map((call) => ({
      functionResponse: { name: call.result.name, ...(call.assignedId ? {} : { id: call.result.id }), ...responseOf(call) },
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
