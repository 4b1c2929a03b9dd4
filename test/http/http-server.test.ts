import assert from 'node:assert/strict'
import { request } from 'node:http'
import { describe, it } from 'node:test'
import { z } from 'zod'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { defineTool } from '../../src/tools/tool.ts'
import { assistantMessage, buildTestApp, captureLogs, chatCompletion, listen, waitFor } from '../helpers/app.ts'
import { concurrencyProbe, sleepTool } from '../helpers/tools.ts'

async function postJson(url: string, body: unknown) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { response, body: (await response.json()) as ExecuteReply & { error?: { code: string; message: string } } }
}

describe('the real server on a loopback port', () => {
  it('answers a batch over HTTP with the tool messages and a request id', async (t) => {
    const base = await listen(await buildTestApp(t))
    const { response, body } = await postJson(
      `${base}/execute`,
      chatCompletion([
        ['call_1', 'get_time', { timezone: 'Europe/Paris' }],
        ['call_2', 'get_date', {}],
        ['call_3', 'get_time', '{"timezone": "Nowhere/Land"}'],
      ]),
    )
    assert.equal(response.status, 200)
    assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(body.status, 'partial')
    assert.deepEqual(
      body.messages.map((message) => message.tool_call_id),
      ['call_1', 'call_2', 'call_3'],
    )
    assert.deepEqual(
      body.results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'ok', 'invalid_arguments'],
    )
  })

  it("keeps a client's sane x-request-id and replaces one that is not", async (t) => {
    const base = await listen(await buildTestApp(t))
    const idOf = async (given: string) =>
      (await fetch(`${base}/healthz`, { headers: { 'x-request-id': given } })).headers.get('x-request-id')
    assert.equal(await idOf('agent-7f3a.step:12'), 'agent-7f3a.step:12')
    assert.match((await idOf('x'.repeat(500))) ?? '', /^[0-9a-f-]{36}$/)
    assert.match((await idOf('two words')) ?? '', /^[0-9a-f-]{36}$/)
  })

  it('serves GET /tools, /healthz and /readyz', async (t) => {
    const base = await listen(await buildTestApp(t))
    const tools = (await (await fetch(`${base}/tools`)).json()) as Array<{ type: string; function: { name: string; parameters: object } }>
    assert.deepEqual(
      tools.map((tool) => [tool.type, tool.function.name]),
      [
        ['function', 'get_time'],
        ['function', 'get_date'],
        ['function', 'get_weather'],
      ],
    )
    assert.deepEqual(tools[2]?.function.parameters, {
      type: 'object',
      properties: {
        location: {
          type: 'string',
          minLength: 1,
          maxLength: 200,
          description: 'A place name, optionally narrowed by country or region: "Paris", "Paris, Texas", "Tokyo, JP".',
        },
        unit: {
          default: 'celsius',
          description: 'Temperature unit. Defaults to celsius.',
          type: 'string',
          enum: ['celsius', 'fahrenheit'],
        },
      },
      required: ['location'],
      additionalProperties: false,
    })
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' })
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), {
      status: 'ready',
      tools: 3,
      calls: { running: 0, waiting: 0, capacity: 64 + 1024, abandoned: 0 },
      mcp: [],
      state: { store: 'memory', up: true },
    })
  })

  it("declares the tools in each provider's format with GET /tools?format=", async (t) => {
    const app = await buildTestApp(t, { tools: [sleepTool] })
    const get = async (format: string) => (await app.inject({ method: 'GET', url: `/tools?format=${format}` })).json<unknown>()
    const parameters = { type: 'object', properties: { ms: { type: 'integer', minimum: 0, maximum: 60_000 } }, required: ['ms'] }
    const description = 'Waits, then answers.'
    assert.deepEqual(await get('openai'), [{ type: 'function', function: { name: 'sleep', description, parameters } }])
    assert.deepEqual(await get('responses'), [{ type: 'function', name: 'sleep', description, parameters, strict: false }])
    assert.deepEqual(await get('anthropic'), [{ name: 'sleep', description, input_schema: parameters }])
    assert.deepEqual(await get('gemini'), [{ functionDeclarations: [{ name: 'sleep', description, parametersJsonSchema: parameters }] }])
    const unknown = await app.inject({ method: 'GET', url: '/tools?format=cohere' })
    assert.equal(unknown.statusCode, 400)
    assert.equal(unknown.json<{ error: { code: string; path: string } }>().error.path, 'query.format')
  })

  it('answers 503 with Retry-After when the queue is full, and every admitted call still gets its answer', async (t) => {
    const { tool, stats } = concurrencyProbe('probe', 150)
    const app = await buildTestApp(t, { tools: [tool], env: { TOOLGATE_CONCURRENCY: '2', TOOLGATE_MAX_QUEUED_CALLS: '2' } })
    const base = await listen(app)
    const first = postJson(`${base}/execute`, assistantMessage(['a', 'b', 'c'].map((id) => [id, 'probe'])))
    // Wait until the first batch is admitted and running.
    await waitFor(() => stats.running === 2, 'the first batch to run')
    const refused = await postJson(
      `${base}/execute`,
      assistantMessage([
        ['d', 'probe'],
        ['e', 'probe'],
      ]),
    )
    assert.equal(refused.response.status, 503)
    assert.equal(refused.response.headers.get('retry-after'), '1')
    assert.equal(refused.body.error?.code, 'queue_full')
    const admitted = await first
    assert.equal(admitted.body.status, 'complete')
    assert.equal(admitted.body.messages.length, 3)
    assert.equal(stats.started, 3)
  })

  it("cancels a client's running calls when it disconnects", async (t) => {
    const { tool, stats } = concurrencyProbe('probe', 30_000)
    const { logger, lines } = captureLogs()
    const base = await listen(await buildTestApp(t, { tools: [tool], logger }))
    const body = JSON.stringify(
      assistantMessage([
        ['a', 'probe'],
        ['b', 'probe'],
      ]),
    )
    const client = request(`${base}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    client.on('error', () => undefined)
    client.end(body)
    await waitFor(() => stats.running === 2, 'both calls to run')
    client.destroy()
    await waitFor(() => stats.aborted === 2, 'both calls to see their signal abort')
    assert.equal(stats.running, 0)
    const answered = () => lines.filter((line) => line.msg === 'call answered')
    await waitFor(() => answered().length === 2, 'both calls to be answered')
    assert.deepEqual(
      answered().map((line) => line.outcome),
      ['cancelled', 'cancelled'],
    )
    const logged = lines.filter((line) => line.msg === 'request completed')
    assert.deepEqual(
      logged.map((line) => [line.route, line.aborted, line.statusCode]),
      [['/execute', true, undefined]],
      'the request is logged once, as aborted',
    )
  })

  it('logs one line per call with the request id, and neither arguments nor results at info', async (t) => {
    const canary = 'canary-7f3a9c'
    const echo = defineTool({
      name: 'echo',
      description: 'Echoes.',
      inputSchema: z.object({ text: z.string() }),
      execute: ({ text }) => ({ text }),
    })
    const { logger, lines } = captureLogs('info')
    const base = await listen(await buildTestApp(t, { tools: [echo, sleepTool], logger }))
    const { response } = await postJson(
      `${base}/execute`,
      assistantMessage([
        ['call_echo', 'echo', { text: canary }],
        ['call_sleep', 'sleep', { ms: 1 }],
      ]),
    )
    const requestId = response.headers.get('x-request-id')
    // The request's own line is written once its response is closed, which the client need not wait for.
    await waitFor(() => lines.some((line) => line.reqId === requestId && line.msg === 'request completed'), 'the request line')
    const ofRequest = lines.filter((line) => line.reqId === requestId)
    assert.equal(ofRequest.length, 3, 'two calls, and the request')
    const callLines = ofRequest.filter((line) => line.msg === 'call answered')
    assert.deepEqual(callLines.map((line) => [line.tool, line.callId, line.outcome, line.attempts, typeof line.durationMs]).sort(), [
      ['echo', 'call_echo', 'ok', 1, 'number'],
      ['sleep', 'call_sleep', 'ok', 1, 'number'],
    ])
    assert.ok(!JSON.stringify(lines).includes(canary), 'arguments and results stay out of info logs')
  })
})
