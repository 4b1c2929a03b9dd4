import { z } from 'zod'
import { callsAmong } from './calls-among.ts'
import { defineProvider, jsonSchemaObject, type PayloadCalls } from './provider.ts'

const functionCallPart = z.object({
  functionCall: z.object({
    name: z.string(),
    args: z.unknown().optional().meta({ type: 'object' }),
    id: z.string().min(1).optional().describe('Only newer models send one.'),
  }),
})

const generateContentPayload = z
  .object({
    candidates: z.array(z.object({ content: z.object({ parts: z.array(z.looseObject({})).optional() }).optional() })).min(1),
  })
  .describe('A Google Gemini generateContent response; the functionCall parts of candidates[0] run.')
  .transform((response, context): PayloadCalls => {
    const parts = response.candidates[0]?.content?.parts ?? []
    const found = callsAmong(parts, ['candidates', 0, 'content', 'parts'], (part) => 'functionCall' in part, functionCallPart, context)
    if (found === undefined) return z.NEVER
    return {
      shape: 'gemini',
      calls: found.map(({ call, index, path }) => {
        const { name, args, id } = call.functionCall
        // Gemini calls may carry no id: the part's position names the call, so two calls of one tool stay apart.
        return {
          id: id ?? `gemini_call_${String(index)}`,
          name,
          arguments: args,
          path,
          ...(id === undefined ? { assignedId: true as const } : {}),
        }
      }),
    }
  })

/** Gemini wants an object as a function's response: objects go as they are, anything else under `result`. */
function asObject(output: unknown): Record<string, unknown> {
  return typeof output === 'object' && output !== null && !Array.isArray(output) ? (output as Record<string, unknown>) : { result: output }
}

/** Google Gemini's generateContent: functionCall parts answered by functionResponse parts in one user content. */
export const gemini = defineProvider({
  name: 'gemini',
  payloads: { response: { schema: generateContentPayload, described: 'a Gemini generateContent response' } },
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
