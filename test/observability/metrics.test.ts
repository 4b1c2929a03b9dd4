import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assistantMessage, buildTestApp, captureLogs } from '../helpers/app.ts'
import { flakyTool, sleepTool } from '../helpers/tools.ts'

describe('GET /metrics', () => {
  it('counts calls of made-up tools under one label, whatever names the model writes, and logs their names cut short', async (t) => {
    const { logger, lines } = captureLogs()
    const app = await buildTestApp(t, { tools: [sleepTool], logger })
    const long = `x${'y'.repeat(4_999)}`
    for (let batch = 0; batch < 4; batch++) {
      const calls = Array.from(
        { length: 32 },
        (_, index) => [`c${String(index)}`, `made_up_${String(batch)}_${String(index)}`, {}] as [string, string, object],
      )
      await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([...calls, ['long', long, {}]]) })
    }
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    assert.ok(text.includes('toolgate_calls_total{tool="(unknown)",outcome="unknown_tool"} 132'), 'one series for every made-up name')
    assert.ok(!text.includes('made_up_'), 'no series per made-up name')
    assert.ok(!text.includes(long.slice(0, 200)))
    const logged = lines.filter((line) => line.msg === 'call answered' && line.callId === 'long')
    assert.equal(logged.length, 4)
    assert.equal(logged[0]?.tool, `${long.slice(0, 80)}…`)
  })

  it('counts requests by route pattern: URLs no route takes, however many, add no series', async (t) => {
    const app = await buildTestApp(t)
    const series = async () =>
      (await app.inject({ method: 'GET', url: '/metrics' })).body.split('\n').filter((line) => /^toolgate_http_requests_total\{/.test(line))
    for (let index = 0; index < 10; index++) await app.inject({ method: 'GET', url: `/warm-up/${String(index)}` })
    await series()
    const before = await series()
    for (let index = 0; index < 2_000; index++) {
      const url = index % 2 === 0 ? `/made-up/${String(index)}?q=${String(index)}` : `/execute/${'z'.repeat(index)}`
      await app.inject({ method: index % 3 === 0 ? 'POST' : 'GET', url })
    }
    const after = await series()
    assert.equal(after.length, before.length, `no series per URL: ${after.join(' | ')}`)
    assert.ok(after.some((line) => line.startsWith('toolgate_http_requests_total{route="unmatched",status="404"}')))
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
    assert.ok(!text.includes('made-up') && !text.includes('zzzz'), 'no URL in the metrics')
  })

  it('counts calls by tool and outcome, retries, batches by status and HTTP requests, in Prometheus format', async (t) => {
    const { tool } = flakyTool(1)
    const app = await buildTestApp(t, { tools: [sleepTool, tool], random: () => 0 })
    const payload = assistantMessage([
      ['a', 'sleep', { ms: 1 }],
      ['b', 'sleep', { ms: 'x' }],
      ['c', 'flaky', {}],
    ])
    await app.inject({ method: 'POST', url: '/execute', payload })
    const response = await app.inject({ method: 'GET', url: '/metrics' })
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    const text = response.body
    for (const line of [
      'toolgate_calls_total{tool="sleep",outcome="ok"} 1',
      'toolgate_calls_total{tool="sleep",outcome="invalid_arguments"} 1',
      'toolgate_calls_total{tool="flaky",outcome="ok"} 1',
      'toolgate_call_retries_total{tool="flaky"} 1',
      'toolgate_batches_total{status="partial"} 1',
      'toolgate_http_requests_total{route="/execute",status="200"} 1',
      'toolgate_calls_running 0',
      'toolgate_calls_waiting 0',
    ]) {
      assert.ok(text.includes(line), `has ${line}`)
    }
    assert.match(text, /toolgate_call_duration_seconds_count\{tool="sleep"\} 1/)
    assert.match(text, /toolgate_call_queue_wait_seconds_count 2/)
  })

  it('counts each call once across scrapes, series resolved once per tool and outcome', async (t) => {
    const { tool } = flakyTool(1)
    const app = await buildTestApp(t, { tools: [sleepTool, tool], random: () => 0 })
    const payload = assistantMessage([
      ['a', 'sleep', { ms: 1 }],
      ['b', 'sleep', { ms: 1 }],
      ['c', 'flaky', {}],
      ['d', 'nope', {}],
    ])
    const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body
    const lines = (text: string, prefix: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(prefix))
        .sort()
    await app.inject({ method: 'POST', url: '/execute', payload })
    await app.inject({ method: 'POST', url: '/execute', payload })
    await scrape()
    await app.inject({ method: 'POST', url: '/execute', payload })
    await scrape()
    const text = await scrape()
    assert.deepEqual(lines(text, 'toolgate_calls_total{'), [
      'toolgate_calls_total{tool="(unknown)",outcome="unknown_tool"} 3',
      'toolgate_calls_total{tool="flaky",outcome="ok"} 3',
      'toolgate_calls_total{tool="sleep",outcome="ok"} 6',
    ])
    assert.deepEqual(lines(text, 'toolgate_call_retries_total{'), ['toolgate_call_retries_total{tool="flaky"} 3'])
    assert.deepEqual(lines(text, 'toolgate_batches_total{'), ['toolgate_batches_total{status="partial"} 3'])
    assert.deepEqual(lines(text, 'toolgate_call_duration_seconds_count'), [
      'toolgate_call_duration_seconds_count{tool="flaky"} 3',
      'toolgate_call_duration_seconds_count{tool="sleep"} 6',
    ])
    assert.ok(text.includes('toolgate_call_duration_seconds_bucket{le="+Inf",tool="sleep"} 6'))
    assert.ok(text.includes('toolgate_call_queue_wait_seconds_count 9'))
    assert.ok(text.includes('toolgate_call_queue_wait_seconds_bucket{le="0.001"} 9'))
    assert.ok(text.includes('toolgate_http_requests_total{route="/execute",status="200"} 3'))
    assert.ok(text.includes('toolgate_http_requests_total{route="/metrics",status="200"} 2'), 'the scrapes answered before this one')
  })
})
