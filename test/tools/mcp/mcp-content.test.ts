import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildApp, type App } from '../../../src/app.ts'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import type { ToolMessage } from '../../../src/providers/index.ts'
import { assistantMessage, testConfig } from '../../helpers/app.ts'

const fixture = new URL('../../fixtures/mcp-content-server.ts', import.meta.url).pathname
/** What the fixture sends: a 1x1 PNG, a few bytes of PDF, and 12 bytes of no known type. */
const pixelPng = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='
const pixelBytes = Buffer.from(pixelPng, 'base64').length
const tinyPdf = Buffer.from('%PDF-1.4\n%fixture\n').toString('base64')
const limit = 4096

/** A gateway whose MCP server `media` is the content fixture, with results limited to `limit` bytes. */
async function gateway(): Promise<App> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-content-')), 'tools.yaml')
  await writeFile(file, `mcp:\n  - name: media\n    command: ${process.execPath}\n    args: [${fixture}]\n    timeoutMs: 5000\n`)
  return buildApp(testConfig({ TOOLGATE_CONFIG: file, TOOLGATE_MAX_RESULT_BYTES: String(limit) }))
}

type Format = 'openai' | 'ollama' | 'anthropic' | 'responses' | 'gemini'

/** One call of `tool` in the payload shape of `format`. */
function payloadOf(format: Format, tool: string, args: Record<string, unknown>): Record<string, unknown> {
  switch (format) {
    case 'openai':
      return assistantMessage([['call_1', tool, args]])
    case 'ollama':
      return { model: 'qwen3:8b', message: { role: 'assistant', tool_calls: [{ function: { name: tool, arguments: args } }] } }
    case 'anthropic':
      return { type: 'message', role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: tool, input: args }] }
    case 'responses':
      return { object: 'response', output: [{ type: 'function_call', call_id: 'call_1', name: tool, arguments: JSON.stringify(args) }] }
    case 'gemini':
      return { candidates: [{ content: { role: 'model', parts: [{ functionCall: { id: 'fc_1', name: tool, args } }] } }] }
  }
}

let app: App

before(async () => {
  app = await gateway()
})

after(async () => {
  await app.close()
})

async function call(format: Format, tool: string, args: Record<string, unknown> = {}): Promise<ExecuteReply<ToolMessage>> {
  const response = await app.inject({ method: 'POST', url: `/execute?format=${format}`, payload: payloadOf(format, tool, args) })
  assert.equal(response.statusCode, 200, response.body)
  return response.json<ExecuteReply<ToolMessage>>()
}

/** The text a Chat Completions or Ollama tool message carries. */
async function textOf(format: 'openai' | 'ollama', tool: string, args?: Record<string, unknown>): Promise<string> {
  const [message] = (await call(format, tool, args)).messages
  assert.ok(message && 'content' in message && typeof message.content === 'string')
  return message.content
}

/** The content of the one tool_result of an Anthropic answer. */
async function toolResultOf(tool: string, args?: Record<string, unknown>): Promise<unknown> {
  const [message] = (await call('anthropic', tool, args)).messages
  assert.ok(message && 'content' in message && Array.isArray(message.content))
  const [block] = message.content
  assert.ok(block && 'tool_use_id' in block)
  return block.content
}

/** The output of the one function_call_output of a Responses answer. */
async function callOutputOf(tool: string, args?: Record<string, unknown>): Promise<unknown> {
  const [message] = (await call('responses', tool, args)).messages
  assert.ok(message && 'call_id' in message && 'output' in message)
  return message.output
}

describe('MCP content blocks, for a tool message that carries text only (Chat Completions, Ollama)', () => {
  for (const format of ['openai', 'ollama'] as const) {
    it(`${format}: says an image was there, its type and size, beside its caption`, async () => {
      assert.equal(
        await textOf(format, 'media__image'),
        `[image (image/png, ${String(pixelBytes)} bytes): not shown, this tool message cannot carry it]\nThe image above is the MCP logo.`,
      )
    })

    it(`${format}: gives an embedded text resource with its URI, and says what a blob resource was`, async () => {
      assert.equal(await textOf(format, 'media__notes'), '[resource file:///notes/today.md (text/markdown)]\n# Today\nBuy milk.')
      const files = await textOf(format, 'media__files')
      assert.match(files, /^\[resource file:\/\/\/reports\/q3\.pdf \(application\/pdf, 18 bytes\): not shown/)
      assert.match(files, /\n\[resource file:\/\/\/data\/raw\.bin \(application\/octet-stream, 12 bytes\): not shown/)
    })

    it(`${format}: names a resource link, its URI, type, size and description`, async () => {
      assert.equal(
        await textOf(format, 'media__link'),
        '[resource link: q4.pdf <file:///reports/q4.pdf> (application/pdf, 48213 bytes): The fourth-quarter report]',
      )
    })

    it(`${format}: says what audio was there, and reads structuredContent as its JSON`, async () => {
      assert.match(await textOf(format, 'media__audio'), /^\[audio \(audio\/wav, 16 bytes\): not shown/)
      assert.equal(await textOf(format, 'media__stats'), '{"count":3,"unit":"apples"}')
    })
  }
})

describe('MCP content blocks as Anthropic tool_result content', () => {
  it('sends an image as an image block, in its place among the text', async () => {
    assert.deepEqual(await toolResultOf('media__image'), [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pixelPng } },
      { type: 'text', text: 'The image above is the MCP logo.' },
    ])
  })

  it('sends an embedded PDF as a document block, and says what another blob was', async () => {
    const content = await toolResultOf('media__files')
    assert.ok(Array.isArray(content))
    assert.deepEqual(content[0], { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: tinyPdf } })
    assert.match(String((content[1] as { text?: unknown }).text), /^\[resource file:\/\/\/data\/raw\.bin \(application\/octet-stream/)
  })

  it('answers text alone, a text resource, a resource link and audio as a string', async () => {
    assert.equal(await toolResultOf('media__add', { a: 1, b: 2 }), '3')
    assert.equal(await toolResultOf('media__notes'), '[resource file:///notes/today.md (text/markdown)]\n# Today\nBuy milk.')
    assert.match(String(await toolResultOf('media__link')), /^\[resource link: q4\.pdf <file:\/\/\/reports\/q4\.pdf>/)
    assert.match(String(await toolResultOf('media__audio')), /^\[audio \(audio\/wav/)
  })
})

describe('MCP content blocks as Responses function_call_output items', () => {
  it('sends an image as input_image (a data URL), in its place among the text', async () => {
    assert.deepEqual(await callOutputOf('media__image'), [
      { type: 'input_image', image_url: `data:image/png;base64,${pixelPng}` },
      { type: 'input_text', text: 'The image above is the MCP logo.' },
    ])
  })

  it('sends an embedded PDF as input_file named after its URI, and says what another blob was', async () => {
    const output = await callOutputOf('media__files')
    assert.ok(Array.isArray(output))
    assert.deepEqual(output[0], { type: 'input_file', filename: 'q3.pdf', file_data: `data:application/pdf;base64,${tinyPdf}` })
    assert.match(String((output[1] as { text?: unknown }).text), /^\[resource file:\/\/\/data\/raw\.bin/)
  })

  it('answers text alone, a text resource and a resource link as a string', async () => {
    assert.equal(await callOutputOf('media__add', { a: 1, b: 2 }), '3')
    assert.equal(await callOutputOf('media__notes'), '[resource file:///notes/today.md (text/markdown)]\n# Today\nBuy milk.')
    assert.match(String(await callOutputOf('media__link')), /^\[resource link: q4\.pdf/)
  })
})

/** The functionResponse of the one call of a Gemini answer. */
async function functionResponseOf(tool: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const [message] = (await call('gemini', tool, args)).messages
  assert.ok(message && 'parts' in message)
  const [part] = message.parts
  assert.ok(part)
  return part.functionResponse
}

describe('MCP content blocks as a Gemini functionResponse', () => {
  it('sends an image as an inlineData part of the functionResponse, the text under response.result', async () => {
    assert.deepEqual(await functionResponseOf('media__image'), {
      name: 'media__image',
      id: 'fc_1',
      response: { result: 'The image above is the MCP logo.' },
      parts: [{ inlineData: { mimeType: 'image/png', data: pixelPng } }],
    })
  })

  it('answers text alone under response.result, and structuredContent as the response object', async () => {
    assert.deepEqual(await functionResponseOf('media__add', { a: 1, b: 2 }), { name: 'media__add', id: 'fc_1', response: { result: '3' } })
    assert.deepEqual(await functionResponseOf('media__stats'), { name: 'media__stats', id: 'fc_1', response: { count: 3, unit: 'apples' } })
  })
})

describe('results[].output of an MCP tool', () => {
  it('is the whole MCP result, for text, images and structuredContent alike', async () => {
    assert.deepEqual((await call('openai', 'media__add', { a: 2, b: 2 })).results[0]?.output, { content: [{ type: 'text', text: '4' }] })
    assert.deepEqual((await call('anthropic', 'media__image')).results[0]?.output, {
      content: [
        { type: 'image', data: pixelPng, mimeType: 'image/png' },
        { type: 'text', text: 'The image above is the MCP logo.' },
      ],
    })
    assert.deepEqual((await call('responses', 'media__stats')).results[0]?.output, {
      content: [{ type: 'text', text: '{"count":3,"unit":"apples"}' }],
      structuredContent: { count: 3, unit: 'apples' },
    })
  })
})

describe('an MCP image over TOOLGATE_MAX_RESULT_BYTES', () => {
  const big = { bytes: limit * 2 }
  const leftOut = `[image (image/png, ${String(limit * 2)} bytes): left out by toolgate, it is larger than the room left under the result limit of ${String(limit)} bytes]`

  it('is replaced by a note saying what it was and why, the text and the image that fit kept, for every format', async () => {
    for (const format of ['openai', 'ollama'] as const) {
      assert.equal(
        await textOf(format, 'media__big_image', big),
        `A large chart follows.\n${leftOut}\n[image (image/png, ${String(pixelBytes)} bytes): not shown, this tool message cannot carry it]`,
      )
    }
    assert.deepEqual(await toolResultOf('media__big_image', big), [
      { type: 'text', text: 'A large chart follows.' },
      { type: 'text', text: leftOut },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pixelPng } },
    ])
    assert.deepEqual(await callOutputOf('media__big_image', big), [
      { type: 'input_text', text: 'A large chart follows.' },
      { type: 'input_text', text: leftOut },
      { type: 'input_image', image_url: `data:image/png;base64,${pixelPng}` },
    ])
  })

  it('is not in the reply at all: output is the text the model reads, truncatedFromBytes its size before', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/execute?format=anthropic',
      payload: payloadOf('anthropic', 'media__big_image', big),
    })
    assert.ok(response.body.length < limit * 2, `a reply of ${String(response.body.length)} characters`)
    const [result] = response.json<ExecuteReply<ToolMessage>>().results
    assert.ok(result?.ok)
    assert.match(String(result.output), /^A large chart follows\.\n\[image \(image\/png, 8192 bytes\): left out by toolgate/)
    assert.ok((result.truncatedFromBytes ?? 0) > limit * 2)
  })
})
