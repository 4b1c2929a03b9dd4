import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions'
import { startOpenMeteoStub } from '../helpers/open-meteo-stub.ts'

const demo = new URL('../../examples/demo/demo.ts', import.meta.url).pathname
const run = promisify(execFile)

/** A local server speaking the Chat Completions API: tool calls first, then an answer built from the tool messages. */
async function fakeModel(t: TestContext) {
  const requests: ChatCompletionCreateParams[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const params = JSON.parse(body) as ChatCompletionCreateParams
      requests.push(params)
      const toolMessages = params.messages.filter((message) => message.role === 'tool')
      const message =
        toolMessages.length === 0
          ? {
              role: 'assistant',
              content: null,
              tool_calls: [
                ['call_a1', 'get_time'],
                ['call_b2', 'get_date'],
                ['call_c3', 'get_weather'],
              ].map(([id, name]) => ({
                id,
                type: 'function',
                function: { name, arguments: name === 'get_weather' ? '{"location":"Tokyo"}' : '{"timezone":"Asia/Tokyo"}' },
              })),
            }
          : { role: 'assistant', content: `Answered from ${String(toolMessages.length)} tool results.` }
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify({
          id: `chatcmpl-${String(requests.length)}`,
          object: 'chat.completion',
          created: 1_764_000_000,
          model: params.model,
          choices: [{ index: 0, message, finish_reason: toolMessages.length === 0 ? 'tool_calls' : 'stop', logprobs: null }],
        }),
      )
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/v1`, requests }
}

describe('npm run demo', () => {
  it('runs the whole loop against an OpenAI-compatible endpoint', async (t) => {
    const model = await fakeModel(t)
    const weather = await startOpenMeteoStub()
    t.after(() => weather.close())
    const { stdout } = await run(process.execPath, [demo], {
      env: {
        PATH: process.env.PATH ?? '',
        OPENAI_BASE_URL: model.url,
        OPENAI_API_KEY: 'test-key',
        OPENAI_MODEL: 'test-model',
        OPEN_METEO_GEOCODING_URL: weather.url,
        OPEN_METEO_FORECAST_URL: weather.url,
      },
      timeout: 30_000,
    })
    assert.match(stdout, /asking test-model at http:\/\/127\.0\.0\.1:\d+\/v1/)
    assert.match(stdout, /POST \/execute -> complete/)
    assert.match(stdout, /batch wall time, parallel: +[\d.]+ ms/)
    assert.match(stdout, /batch wall time, sequential: +[\d.]+ ms/)
    assert.match(stdout, /speed-up: [\d.]+x/)
    assert.match(stdout, /final answer: Answered from 3 tool results\./)
    assert.doesNotMatch(stdout, /RECORDED|stand-in/)

    const [first, second] = model.requests
    assert.deepEqual(
      first?.tools?.map((tool) => (tool.type === 'function' ? tool.function.name : tool.type)),
      ['get_time', 'get_date', 'get_weather'],
    )
    assert.equal(first.parallel_tool_calls, true)
    // The second request carries the assistant message and one tool message per call, in order.
    assert.deepEqual(
      second?.messages.map((message) => (message.role === 'tool' ? `tool:${message.tool_call_id}` : message.role)),
      ['user', 'assistant', 'tool:call_a1', 'tool:call_b2', 'tool:call_c3'],
    )
  })

  it('replays the recording without an endpoint, and says when the weather is a stand-in', async () => {
    const { stdout } = await run(process.execPath, [demo], {
      env: { PATH: process.env.PATH ?? '', OPEN_METEO_GEOCODING_URL: 'http://127.0.0.1:9', OPEN_METEO_FORECAST_URL: 'http://127.0.0.1:9' },
      timeout: 30_000,
    })
    assert.match(stdout, /REPLAYING A RECORDED chat completion/)
    assert.match(stdout, /with FIXED figures .* It is not real weather\./s)
    assert.match(stdout, /POST \/execute -> complete/)
    assert.match(stdout, /"source":"127\.0\.0\.1:\d+"/)
    assert.match(stdout, /skipping the final answer: no model to ask/)
  })
})
