import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import { describe, it, type TestContext } from 'node:test'
import { createGetTime } from '../../src/tools/builtin/get-time.ts'
import { buildTestApp, chatCompletion, listen, waitFor } from '../helpers/app.ts'
import { throwTool } from '../helpers/tools.ts'

interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>
  status?: { code?: number }
}

/** A stand-in OTLP/HTTP collector on loopback: the spans it received. */
async function collector(t: TestContext): Promise<{ url: string; spans: OtlpSpan[]; paths: string[] }> {
  const spans: OtlpSpan[] = []
  const paths: string[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      paths.push(`${request.method ?? ''} ${request.url ?? ''} ${request.headers['content-type'] ?? ''}`)
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>
      }
      for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans)
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${String(address.port)}`, spans, paths }
}

const attribute = (span: OtlpSpan | undefined, key: string) => {
  const value = span?.attributes.find((entry) => entry.key === key)?.value
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue))
}

describe('tracing', () => {
  it('exports a span per batch, under the caller’s traceparent, and one per call under it', async (t) => {
    const otlp = await collector(t)
    const app = await buildTestApp(t, {
      tools: [createGetTime(), throwTool],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'toolgate-test' },
    })
    const base = await listen(app)
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const parentId = '00f067aa0ba902b7'
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01` },
      body: JSON.stringify(
        chatCompletion([
          ['call_time', 'get_time', { timezone: 'UTC' }],
          ['call_throw', 'throw', { kind: 'error' }],
        ]),
      ),
    })
    assert.equal(response.status, 200)
    await app.close()
    await waitFor(() => otlp.spans.length >= 3, 'three spans to reach the collector')

    assert.match(otlp.paths[0] ?? '', /^POST \/v1\/traces application\/json/)
    const batch = otlp.spans.find((span) => span.name === 'toolgate.execute')
    assert.ok(batch)
    assert.equal(batch.traceId, traceId)
    assert.equal(batch.parentSpanId, parentId)
    assert.equal(attribute(batch, 'toolgate.batch.status'), 'partial')
    assert.equal(attribute(batch, 'toolgate.batch.calls'), 2)
    const calls = otlp.spans.filter((span) => span.name.startsWith('toolgate.call '))
    assert.deepEqual(calls.map((span) => span.name).sort(), ['toolgate.call get_time', 'toolgate.call throw'])
    for (const call of calls) {
      assert.equal(call.traceId, traceId)
      assert.equal(call.parentSpanId, batch.spanId)
    }
    const failed = calls.find((span) => span.name === 'toolgate.call throw')
    assert.equal(attribute(failed, 'toolgate.call.outcome'), 'tool_error')
    assert.equal(attribute(failed, 'gen_ai.tool.call.id'), 'call_throw')
    assert.equal(failed?.status?.code, 2, 'a failed call is an error span')
  })

  it('cuts the names and ids the model wrote short in the spans, as in the logs', async (t) => {
    const otlp = await collector(t)
    const app = await buildTestApp(t, { tools: [createGetTime()], env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } })
    const id = `call_${'i'.repeat(10_000)}`
    const name = `made_up_${'n'.repeat(5_000)}`
    const response = await app.inject({ method: 'POST', url: '/execute', payload: chatCompletion([[id, name, {}]]) })
    assert.equal(response.statusCode, 200)
    await app.close()
    await waitFor(() => otlp.spans.length >= 2, 'two spans to reach the collector')
    const call = otlp.spans.find((span) => span.name.startsWith('toolgate.call '))
    assert.equal(attribute(call, 'gen_ai.tool.call.id'), `${id.slice(0, 128)}…`)
    assert.equal(attribute(call, 'gen_ai.tool.name'), `${name.slice(0, 80)}…`)
    assert.equal(call?.name, `toolgate.call ${name.slice(0, 80)}…`)
  })

  it('is off when no endpoint is set, without loading the OpenTelemetry SDK', async (t) => {
    const app = await buildTestApp(t)
    assert.equal(app.tracing, undefined)
    // In a fresh process, with a resolve hook noting every OpenTelemetry module asked for but the
    // API package: that one is a no-op façade, and prom-client's process metrics load it anyway.
    const modulesLoaded = (env: Record<string, string>) => {
      const script = `
        import { registerHooks } from 'node:module'
        const asked = new Set()
        registerHooks({ resolve(specifier, context, next) { if (specifier.startsWith('@opentelemetry/') && specifier !== '@opentelemetry/api') asked.add(specifier); return next(specifier, context) } })
        const { buildApp } = await import(${JSON.stringify(new URL('../../src/app.ts', import.meta.url).href)})
        const { loadConfig } = await import(${JSON.stringify(new URL('../../src/config/env.ts', import.meta.url).href)})
        const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', ...JSON.parse(process.env.ENV) }))
        await app.close()
        console.log(JSON.stringify([...asked]))`
      const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, ENV: JSON.stringify(env) },
      })
      return JSON.parse(output.toString()) as string[]
    }
    assert.deepEqual(modulesLoaded({}), [])
    assert.ok(
      modulesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }).includes('@opentelemetry/sdk-trace'),
      'the probe sees the SDK when tracing is on',
    )
  })
})
