import type { FunctionTool, ResponseInputItem } from 'openai/resources/responses/responses'
import { z } from 'zod'
import { formatPath } from '../errors.ts'
import { providerItems, type ContentBlock } from '../tools/content.ts'
import { isResponsesEvent, outputItemSchema, streamedOutput, type OutputItem, type PlacedItem } from './openai-responses-stream.ts'
import { defineProvider, isRecord, jsonSchemaObject, type PayloadCalls, type RawToolCall } from './provider.ts'

const functionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: z.string().min(1).describe('What the function_call_output answers (not the item id fc_...).'),
  name: z.string(),
  arguments: z
    .unknown()
    .optional()
    .meta({ type: ['string', 'object'] }),
})

/**
 * Why the client must answer `item` itself, when it is an item other than a function_call that
 * holds up the conversation: the API refuses the next request while a call has no output, so
 * passing such an item over (answering 200, even `empty`) would leave the client stuck one step
 * later. A custom tool's input is free-form text in a grammar of the client's own declaring
 * (toolgate declares function tools only), while toolgate's tools take a JSON object of arguments
 * checked against their schema: reading the text as such an object would be a guess, and its answer
 * must be a custom_tool_call_output, not the function_call_output toolgate answers with. So each
 * is refused, naming the item; the client answers it and sends toolgate the rest.
 */
function withoutClientAnswer(item: OutputItem): string | undefined {
  const yours = 'answer it yourself and send toolgate the other items'
  switch (item.type) {
    case 'custom_tool_call':
      return `a custom_tool_call takes free-form text, and toolgate's tools take a JSON object of arguments: ${yours} (custom_tool_call_output), or declare the tool as a function tool (GET /tools?format=responses)`
    case 'tool_search_call':
      // A hosted tool search is answered in the response itself (tool_search_output); a client-executed one wants the client's tools.
      return item.execution === 'client'
        ? `a client-executed tool_search_call wants the tool definitions the client loads: ${yours} (tool_search_output)`
        : undefined
    case 'computer_call':
    case 'local_shell_call':
    case 'apply_patch_call':
      return `a ${item.type} is one of the API's built-in tools that the client runs: ${yours} (${item.type}_output)`
    case 'shell_call': {
      // A shell_call in a hosted container is run by the API; one in a local environment by the client.
      const environment = item.environment
      const local = typeof environment === 'object' && environment !== null && 'type' in environment && environment.type === 'local'
      return local ? `a shell_call in a local environment is run by the client: ${yours} (shell_call_output)` : undefined
    }
    default:
      return undefined
  }
}

/** The function calls among output items, each checked where it sits; undefined when one is malformed, unfinished or not toolgate's to answer. */
function callsOfItems(items: readonly PlacedItem[], context: z.core.$RefinementCtx): RawToolCall[] | undefined {
  const calls: RawToolCall[] = []
  const issuesBefore = context.issues.length
  const refuse = (path: PropertyKey[], message: string, input: unknown) => {
    context.issues.push({ code: 'custom', message, input, path })
  }
  for (const { item, at, unfinished } of items) {
    const refusal = withoutClientAnswer(item)
    if (refusal !== undefined) refuse([...at, 'type'], refusal, item)
    if (item.type !== 'function_call') continue
    const parsed = functionCallItem.safeParse(item)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) refuse([...at, ...issue.path], issue.message, item)
      continue
    }
    if (unfinished !== undefined) {
      refuse(unfinished.at, unfinished.message, item)
      continue
    }
    const call = parsed.data
    calls.push({ id: call.call_id, name: call.name, arguments: call.arguments, path: formatPath(at) })
  }
  return context.issues.length === issuesBefore ? calls : undefined
}

const responsePayload = z
  .object({
    object: z.literal('response'),
    output: z.array(outputItemSchema).describe('function_call items among reasoning, message and other items'),
  })
  .describe('An OpenAI Responses API response; its function_call items run, keyed by call_id.')
  .transform((response, context): PayloadCalls => {
    const calls = callsOfItems(
      response.output.map((item, index) => ({ item, at: ['output', index] })),
      context,
    )
    return calls === undefined ? z.NEVER : { shape: 'responses', calls }
  })

const streamedEventsPayload = z
  .array(z.unknown())
  .min(1)
  .describe(
    'A streamed Responses API response: its events (response.output_item.added, response.function_call_arguments.delta, response.completed...), in order; function calls are put back together by output_index.',
  )
  .transform((events, context): PayloadCalls => {
    const items = streamedOutput(events, context)
    const calls = items === undefined ? undefined : callsOfItems(items, context)
    return calls === undefined ? z.NEVER : { shape: 'responses.stream', calls }
  })

const outputItemsSchema = z.array(
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('input_text'), text: z.string() }),
    z.object({ type: z.literal('input_image'), image_url: z.string().describe('A data: URL') }),
    z.object({ type: z.literal('input_file'), filename: z.string(), file_data: z.string().describe('A data: URL') }),
  ]),
)

type OutputItems = z.output<typeof outputItemsSchema>

/** The image types the Responses API reads. */
const imageTypes: readonly string[] = ['image/png', 'image/jpeg', 'image/webp', 'image/gif']

/** A file's name for input_file: the last segment of its URI, or `file`. */
function fileName(uri: string | undefined): string {
  const last = uri?.split(/[/\\]/).at(-1) ?? ''
  return last === '' ? 'file' : last
}

/**
 * A tool's content blocks as a function_call_output's output: images and PDFs as input_image and
 * input_file items, everything else as its text rendering; just the text when that is all there is.
 */
function callOutput(blocks: readonly ContentBlock[] | undefined, content: string): string | OutputItems {
  if (blocks === undefined) return content
  return providerItems<OutputItems[number]>(
    blocks,
    content,
    ({ kind, mimeType, data, uri }) => {
      if (kind === 'image' && imageTypes.includes(mimeType)) return { type: 'input_image', image_url: `data:${mimeType};base64,${data}` }
      if (kind === 'resource' && mimeType === 'application/pdf') {
        return { type: 'input_file', filename: fileName(uri), file_data: `data:application/pdf;base64,${data}` }
      }
      return undefined
    },
    (text) => ({ type: 'input_text', text }),
  )
}

/**
 * The OpenAI Responses API, its response and its stream: function_call items answered by
 * function_call_output items, keyed by call_id.
 */
export const openaiResponses = defineProvider({
  name: 'responses',
  payloads: {
    response: {
      schema: responsePayload,
      looksLike: (body) => isRecord(body) && body.object === 'response',
      described: 'an OpenAI Responses API response',
    },
    streamed: [
      {
        schema: streamedEventsPayload,
        // streamedOutput refuses events without a response.* one.
        looksLike: (body) => Array.isArray(body) && body.some(isResponsesEvent),
        described: 'a streamed Responses API response (its events, or its raw text/event-stream text)',
      },
    ],
  },
  answerSchema: z
    .object({
      type: z.literal('function_call_output'),
      call_id: z.string(),
      output: z
        .union([z.string(), outputItemsSchema])
        .describe('Text; or input_text, input_image and input_file items when the tool returned images or PDFs (an MCP tool)'),
    })
    .describe('Responses API: one per call, keyed by call_id'),
  answers: (calls) =>
    calls.map(
      ({ result, content, blocks }) =>
        ({
          type: 'function_call_output',
          call_id: result.id,
          output: callOutput(blocks, content),
        }) satisfies ResponseInputItem.FunctionCallOutput,
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
