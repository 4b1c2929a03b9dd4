import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { z } from 'zod'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import type { ToolMessage } from '../../src/providers/index.ts'
import { RichContent, type ContentBlock } from '../../src/tools/content.ts'
import { defineTool } from '../../src/tools/tool.ts'
import { assistantMessage, buildTestApp } from '../helpers/app.ts'

const limit = 1000
const pixelPng = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='

/** A built-in tool that answers content blocks: `text` characters of text, then `images` small images. */
const blocksTool = defineTool({
  name: 'blocks',
  description: 'Answers text and images.',
  inputSchema: z.object({ text: z.int().min(0), images: z.int().min(0) }),
  execute: ({ text, images }) => {
    const blocks: ContentBlock[] = [{ type: 'text', text: 'é'.repeat(text) }]
    for (let index = 0; index < images; index++) blocks.push({ type: 'image', data: pixelPng, mimeType: 'image/png' })
    return new RichContent(blocks, { blocks })
  },
})

const notJsonTool = defineTool({
  name: 'not_json',
  description: 'Answers blocks with an output JSON cannot carry.',
  inputSchema: z.object({}),
  execute: () => new RichContent([{ type: 'text', text: 'fine' }], { count: 1n }),
})

async function run(t: TestContext, format: 'openai' | 'anthropic', tool: string, args: Record<string, unknown>) {
  const app = await buildTestApp(t, { tools: [blocksTool, notJsonTool], env: { TOOLGATE_MAX_RESULT_BYTES: String(limit) } })
  const payload =
    format === 'openai'
      ? assistantMessage([['call_1', tool, args]])
      : { type: 'message', role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: tool, input: args }] }
  const response = await app.inject({ method: 'POST', url: `/execute?format=${format}`, payload })
  assert.equal(response.statusCode, 200, response.body)
  return response.json<ExecuteReply<ToolMessage>>()
}

describe('content blocks against TOOLGATE_MAX_RESULT_BYTES', () => {
  it('cuts a text that does not fit on a character boundary, and counts the blocks left out after it in one note', async (t) => {
    const reply = await run(t, 'openai', 'blocks', { text: 2000, images: 3 })
    const [message] = reply.messages
    assert.ok(message && 'content' in message && typeof message.content === 'string')
    assert.ok(Buffer.byteLength(message.content) <= limit, `${String(Buffer.byteLength(message.content))} bytes`)
    assert.doesNotMatch(message.content, /\uFFFD/)
    assert.match(message.content, /\n\[truncated by toolgate: the result was \d+ bytes, the limit is 1000\]\n/)
    assert.match(message.content, /\[toolgate left out 3 more blocks: the result limit of 1000 bytes was reached\]$/)
    assert.equal(reply.results[0]?.output, message.content)
    assert.ok((reply.results[0].truncatedFromBytes ?? 0) > 4000)
  })

  it('keeps the images that fit and bounds the notes of the many that do not', async (t) => {
    const reply = await run(t, 'anthropic', 'blocks', { text: 10, images: 200 })
    const [message] = reply.messages
    assert.ok(message && 'content' in message && Array.isArray(message.content))
    const content = message.content[0]?.content
    assert.ok(Array.isArray(content))
    const images = content.filter((block) => block.type === 'image')
    assert.ok(images.length > 0 && images.length < 200, `${String(images.length)} images kept`)
    assert.ok(JSON.stringify(content).length < limit * 2, `${String(JSON.stringify(content).length)} characters of content`)
    assert.match(JSON.stringify(content.at(-1)), /more blocks: the result limit of 1000 bytes was reached/)
  })

  it('answers a tool whose blocks carry an output JSON cannot hold with invalid_result', async (t) => {
    const reply = await run(t, 'openai', 'not_json', {})
    assert.equal(reply.results[0]?.error?.code, 'invalid_result')
  })
})
