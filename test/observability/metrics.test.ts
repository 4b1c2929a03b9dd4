import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assistantMessage, buildTestApp } from '../helpers/app.ts'
import { flakyTool, sleepTool } from '../helpers/tools.ts'

describe('GET /metrics', () => {
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
})
