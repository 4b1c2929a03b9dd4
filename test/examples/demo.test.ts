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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2
}

/** The figures (ms) the demo printed on its line starting with `label`, checked against the median it printed beside them. */
function figures(stdout: string, label: string, runs: number): number[] {
  const line = stdout.split('\n').find((text) => text.startsWith(`  ${label} `))
  const match = /^ {2}.+?: +([\d. ]+?) {3}median ([\d.]+)$/.exec(line ?? '')
  assert.ok(match?.[1] !== undefined && match[2] !== undefined, `a line "${label} ... median ..." in:\n${stdout}`)
  const values = match[1].split(' ').map(Number)
  assert.equal(values.length, runs, `${label}: one figure per run`)
  assert.equal(median(values).toFixed(1), match[2], `${label}: the median printed is the median of the figures printed`)
  return values
}

/**
 * What the demo says it compared, checked against its own figures: the model's calls, `runs`
 * times each way, and a speed-up that is the ratio it says it is. Not a timing test: whatever the
 * times, the speed-up must follow from them.
 */
function checkComparison(stdout: string, calls: string[], retried: string | undefined) {
  const [, count = '', named = '', runs = ''] =
    /^the same (\d+) calls \(([^)]*)\), (\d+) runs each way, batch wall time in ms:$/m.exec(stdout) ?? []
  assert.deepEqual([Number(count), named.split(', ')], [calls.length, calls], `the comparison names the model's calls:\n${stdout}`)
  const parallel = figures(stdout, 'parallel:', Number(runs))
  const sequential = figures(stdout, 'sequential:', Number(runs))
  const measured = (median(sequential) / median(parallel)).toFixed(2)
  const speedUp = /^speed-up: ([\d.]+)x \((.*)\)$/m.exec(stdout)
  assert.ok(speedUp, 'one speed-up line, saying what it compared')
  if (retried === undefined) {
    assert.match(stdout, /^ {2}calls retried: none$/m)
    assert.equal(speedUp[1], measured)
    assert.equal(speedUp[2], 'median sequential / median parallel wall time above')
  } else {
    // With retries, a run's random backoff differs from mode to mode: the speed-up is taken within
    // each parallel run (its calls' summed durations / its wall time), and the raw ratio still shown.
    assert.match(stdout, new RegExp(`^ {2}calls retried: ${retried}; each retry waited a random backoff`, 'm'))
    const sums = figures(stdout, 'parallel runs, sum of their calls:', Number(runs))
    assert.equal(speedUp[1], median(sums.map((sum, index) => sum / (parallel[index] ?? NaN))).toFixed(2))
    assert.match(speedUp[2] ?? '', new RegExp(`median sequential / median parallel wall: ${measured.replace('.', '\\.')}x$`))
  }
}

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
    checkComparison(stdout, ['get_time', 'get_date', 'get_weather'], undefined)
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
    checkComparison(stdout, ['get_time', 'get_date', 'get_weather'], undefined)
  })

  it('says when calls were retried, and then compares each parallel run with its own calls', async (t) => {
    const weather = await startOpenMeteoStub()
    t.after(() => weather.close())
    // The first forecast request fails (503, retried): it belongs to the first run, a parallel one.
    weather.failNext('unavailable', 1, '/v1/forecast')
    const { stdout } = await run(process.execPath, [demo], {
      env: { PATH: process.env.PATH ?? '', OPEN_METEO_GEOCODING_URL: weather.url, OPEN_METEO_FORECAST_URL: weather.url },
      timeout: 30_000,
    })
    assert.match(stdout, /REPLAYING A RECORDED chat completion/)
    assert.match(stdout, /^ {2}get_weather +[\d.]+ ms {2}\{.*\} \(2 attempts\)$/m)
    checkComparison(stdout, ['get_time', 'get_date', 'get_weather'], 'parallel 1 \\(get_weather\\), sequential 0')
  })
})
