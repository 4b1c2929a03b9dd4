import type { Tool as AnthropicTool, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages'
import { z } from 'zod'
import { formatPath } from '../errors.ts'
import { providerItems, type ContentBlock } from '../tools/content.ts'
import { isMessageEvent, streamedContent } from './anthropic-stream.ts'
import { anyItems, callsAmong } from './calls-among.ts'
import { defineProvider, isRecord, jsonSchemaObject, type PayloadCalls, type RawToolCall } from './provider.ts'

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string(),
  input: z.unknown().optional().meta({ type: 'object' }),
})

const messagePayload = z
  .object({
    type: z.literal('message'),
    role: z.literal('assistant'),
    content: anyItems.describe('tool_use blocks among text, thinking and other blocks'),
  })
  .describe('An Anthropic Messages API response; its tool_use blocks run.')
  .transform((message, context): PayloadCalls => {
    const found = callsAmong(message.content, ['content'], (block) => block.type === 'tool_use', toolUseBlock, context)
    if (found === undefined) return z.NEVER
    return { shape: 'anthropic', calls: found.map(({ call, path }) => ({ id: call.id, name: call.name, arguments: call.input, path })) }
  })

const streamedMessagePayload = z
  .array(z.unknown())
  .min(1)
  .describe(
    'A streamed Messages API response: its events (message_start, content_block_start, content_block_delta, content_block_stop...), in order; tool_use blocks are put back together by index.',
  )
  .transform((events, context): PayloadCalls => {
    const blocks = streamedContent(events, context)
    if (blocks === undefined) return z.NEVER
    const calls: RawToolCall[] = []
    const issuesBefore = context.issues.length
    const refuse = (path: PropertyKey[], message: string, input: unknown) => {
      context.issues.push({ code: 'custom', message, input, path })
    }
    for (const { block, at, json, unfinished } of blocks) {
      if (block.type !== 'tool_use') continue
      const parsed = toolUseBlock.safeParse(block)
      if (!parsed.success) {
        for (const issue of parsed.error.issues) refuse([...at, ...issue.path], issue.message, block)
      } else if (unfinished !== undefined) {
        refuse(unfinished.at, unfinished.message, block)
      } else {
        // The joined pieces are the input ("" is {}); a block streamed without pieces keeps the input it started with.
        calls.push({ id: parsed.data.id, name: parsed.data.name, arguments: json ?? parsed.data.input, path: formatPath(at) })
      }
    }
    return context.issues.length === issuesBefore ? { shape: 'anthropic.stream', calls } : z.NEVER
  })

const imageMediaTypes = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const

const toolResultContent = z.array(
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('text'), text: z.string() }),
    z.object({
      type: z.literal('image'),
      source: z.object({ type: z.literal('base64'), media_type: z.enum(imageMediaTypes), data: z.string() }),
    }),
    z.object({
      type: z.literal('document'),
      source: z.object({ type: z.literal('base64'), media_type: z.literal('application/pdf'), data: z.string() }),
    }),
  ]),
)

const toolResultsMessage = z
  .object({
    role: z.literal('user'),
    content: z.array(
      z.object({
        type: z.literal('tool_result'),
        tool_use_id: z.string(),
        content: z
          .union([z.string(), toolResultContent])
          .describe('Text; or text, image and document blocks when the tool returned images or PDFs (an MCP tool)'),
        is_error: z.boolean().optional(),
      }),
    ),
  })
  .describe('Anthropic: one user message holding every tool_result')

type ToolResultContent = z.output<typeof toolResultContent>

function isImageMediaType(mimeType: string): mimeType is (typeof imageMediaTypes)[number] {
  return (imageMediaTypes as readonly string[]).includes(mimeType)
}

/**
 * A tool's content blocks as a tool_result's content: images and PDFs as the blocks Anthropic
 * takes, everything else as text (Anthropic refuses an empty text block); the text alone when that
 * is all there is.
 */
function resultContent(blocks: readonly ContentBlock[] | undefined, content: string): string | ToolResultContent {
  if (blocks === undefined) return content
  return providerItems<ToolResultContent[number]>(
    blocks,
    content,
    ({ kind, mimeType, data }) => {
      if (kind === 'image' && isImageMediaType(mimeType)) return { type: 'image', source: { type: 'base64', media_type: mimeType, data } }
      if (kind === 'resource' && mimeType === 'application/pdf')
        return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } }
      return undefined
    },
    (text) => ({ type: 'text', text }),
  )
}

/** Anthropic's Messages API, its response and its stream: tool_use blocks answered by tool_result blocks in one user message. */
export const anthropic = defineProvider({
  name: 'anthropic',
  payloads: {
    response: {
      schema: messagePayload,
      looksLike: (body) => isRecord(body) && body.type === 'message' && body.role === 'assistant',
      described: 'an Anthropic Messages API response',
    },
    streamed: [
      {
        schema: streamedMessagePayload,
        // streamedContent refuses events without a message_start or content_block_* one.
        looksLike: (body) => Array.isArray(body) && body.some(isMessageEvent),
        described: 'a streamed Anthropic Messages API response (its events, or its raw text/event-stream text)',
      },
    ],
  },
  answerSchema: toolResultsMessage,
  answers: (calls): Array<z.output<typeof toolResultsMessage>> => {
    if (calls.length === 0) return []
    // One user message for the whole batch: Anthropic wants every tool_result of a turn together.
    const blocks = calls.map(
      ({ result, content, blocks }) =>
        ({
          type: 'tool_result' as const,
          tool_use_id: result.id,
          content: resultContent(blocks, content),
          ...(result.ok ? {} : { is_error: true }),
        }) satisfies ToolResultBlockParam,
    )
    return [{ role: 'user', content: blocks }]
  },
  declarationsSchema: z
    .array(z.object({ name: z.string(), description: z.string(), input_schema: jsonSchemaObject }))
    .describe('format=anthropic: Messages API tools'),
  declare: (tools) =>
    tools.map(
      ({ name, description, parameters }) =>
        ({ name, description, input_schema: parameters }) satisfies Omit<AnthropicTool, 'input_schema'> & {
          input_schema: Record<string, unknown>
        },
    ),
})
