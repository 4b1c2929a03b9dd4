import type { FunctionTool, ResponseInputItem } from 'openai/resources/responses/responses'
import { z } from 'zod'
import { anyItems, callsAmong } from './calls-among.ts'
import { defineProvider, jsonSchemaObject, type PayloadCalls } from './provider.ts'

const functionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: z.string().min(1).describe('What the function_call_output answers (not the item id fc_...).'),
  name: z.string(),
  arguments: z
    .unknown()
    .optional()
    .meta({ type: ['string', 'object'] }),
})

const responsePayload = z
  .object({ object: z.literal('response'), output: anyItems.describe('function_call items among reasoning, message and other items') })
  .describe('An OpenAI Responses API response; its function_call items run, keyed by call_id.')
  .transform((response, context): PayloadCalls => {
    const found = callsAmong(response.output, ['output'], (item) => item.type === 'function_call', functionCallItem, context)
    if (found === undefined) return z.NEVER
    return {
      shape: 'responses',
      calls: found.map(({ call, path }) => ({ id: call.call_id, name: call.name, arguments: call.arguments, path })),
    }
  })

/** The OpenAI Responses API: function_call items answered by function_call_output items, keyed by call_id. */
export const openaiResponses = defineProvider({
  name: 'responses',
  payloads: { response: { schema: responsePayload, described: 'an OpenAI Responses API response' } },
  answerSchema: z
    .object({ type: z.literal('function_call_output'), call_id: z.string(), output: z.string() })
    .describe('Responses API: one per call, keyed by call_id'),
  answers: (calls) =>
    calls.map(
      ({ result, content }) =>
        ({ type: 'function_call_output', call_id: result.id, output: content }) satisfies ResponseInputItem.FunctionCallOutput,
    ),
  declarationsSchema: z
    .array(
      z.object({
        type: z.literal('function'),
        name: z.string(),
        description: z.string().nullish(),
        parameters: jsonSchemaObject.nullable(),
        strict: z.boolean().nullable(),
      }),
    )
    .describe('format=responses: Responses API function tools'),
  // Not strict: strict mode demands every property be required, which optional arguments are not.
  declare: (tools) =>
    tools.map(({ name, description, parameters }): FunctionTool => ({ type: 'function', name, description, parameters, strict: false })),
})
