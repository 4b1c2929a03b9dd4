import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { z } from 'zod'
import { Executor } from '../../src/batch/executor.ts'
import { RequestError } from '../../src/errors.ts'
import { ToolRegistry } from '../../src/tools/registry.ts'
import { truncate } from '../../src/batch/fit-result.ts'
import { defineTool } from '../../src/tools/tool.ts'
import { buildTestApp, chatCompletion, testConfig, waitFor } from '../helpers/app.ts'

const log = pino({ level: 'silent' })

const bigTool = defineTool({
  name: 'big',
  description: 'Answers `bytes` bytes of text made of `unit`.',
  inputSchema: z.object({ bytes: z.int().min(0), unit: z.string().default('a') }),
  execute: ({ bytes, unit }) => ({ text: unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit))) }),
})

describe('result size limit', () => {
  it('cuts a result over TOOLGATE_MAX_RESULT_BYTES, says so in the content, and leaves the others whole', async (t) => {
    const app = await buildTestApp(t, { tools: [bigTool], env: { TOOLGATE_MAX_RESULT_BYTES: '1000' } })
    const response = await app.inject({
      method: 'POST',
      url: '/execute',
      payload: chatCompletion([
        ['call_big', 'big', { bytes: 5_000 }],
        ['call_small', 'big', { bytes: 10 }],
      ]),
    })
    assert.equal(response.statusCode, 200)
    const reply = response.json<{
      status: string
      messages: Array<{ content: string }>
      results: Array<{ ok: boolean; truncatedFromBytes?: number; output: unknown }>
    }>()
    assert.equal(reply.status, 'complete')
    const [big, small] = reply.messages
    assert.ok(big && small)
    assert.ok(Buffer.byteLength(big.content) <= 1000, `cut content is ${String(Buffer.byteLength(big.content))} bytes`)
    assert.ok(big.content.startsWith('{"text":"aaaa'))
    assert.match(big.content, /\[truncated by toolgate: the result was 5011 bytes, the limit is 1000\]$/)
    const [bigResult, smallResult] = reply.results
    assert.equal(bigResult?.truncatedFromBytes, 5011)
    assert.equal(bigResult.output, big.content)
    assert.equal(small.content, '{"text":"aaaaaaaaaa"}')
    assert.equal(smallResult?.truncatedFromBytes, undefined)
  })

  it('cuts on a character boundary, never inside a multi-byte character', () => {
    for (const unit of ['é', '€', '😀']) {
      for (let limit = 256; limit < 300; limit++) {
        const content = unit.repeat(200)
        const cut = truncate({ output: content, content }, limit)
        assert.ok(Buffer.byteLength(cut.content) <= limit)
        assert.ok(!cut.content.includes('\uFFFD'), `a replacement character in a cut of ${unit} at ${String(limit)}`)
        assert.equal(cut.truncatedFromBytes, Buffer.byteLength(content))
      }
    }
  })

  it('leaves a result exactly at the limit untouched', () => {
    const content = 'x'.repeat(300)
    assert.deepEqual(truncate({ output: content, content }, 300), { output: content, content })
  })
})

/** Ignores its signal and answers only when released: a tool that outlives its 20 ms deadline. */
function stubbornTool(releases: Array<() => void>) {
  return defineTool({
    name: 'stubborn',
    description: 'Ignores its signal until released.',
    inputSchema: z.object({}),
    timeoutMs: 20,
    execute: () =>
      new Promise<string>((resolve) =>
        releases.push(() => {
          resolve('late')
        }),
      ),
  })
}

describe('abandoned calls', () => {
  it('refuses new batches with 503 overloaded once too many timed-out tools still run, and admits again when they stop', async () => {
    const releases: Array<() => void> = []
    const stubborn = stubbornTool(releases)
    const quick = defineTool({ name: 'quick', description: 'Answers at once.', inputSchema: z.object({}), execute: () => 'ok' })
    const executor = new Executor(new ToolRegistry([stubborn, quick]), { ...testConfig(), maxAbandonedCalls: 2 })
    const call = (id: string, name: string) => ({ id, name, arguments: '{}', path: id })

    const first = await executor.execute([call('a', 'stubborn'), call('b', 'stubborn'), call('c', 'quick')], { log })
    assert.deepEqual(
      first.calls.map((answered) => answered.result.error?.code ?? 'ok'),
      ['timeout', 'timeout', 'ok'],
    )
    assert.equal(executor.stats.abandoned, 2)
    await assert.rejects(executor.execute([call('d', 'quick')], { log }), (error: unknown) => {
      assert.ok(error instanceof RequestError)
      assert.equal(error.code, 'overloaded')
      assert.equal(error.statusCode, 503)
      assert.equal(error.retryAfterSeconds, 1)
      return true
    })
    // A batch with nothing to run (an unknown tool only) is still answered.
    const unknown = await executor.execute([call('e', 'nope')], { log })
    assert.equal(unknown.calls[0]?.result.error?.code, 'unknown_tool')

    for (const release of releases) release()
    await waitFor(() => executor.stats.abandoned === 0, 'the abandoned tools to stop')
    const after = await executor.execute([call('f', 'quick')], { log })
    assert.equal(after.calls[0]?.result.ok, true)
  })

  it('answers 503 with Retry-After over HTTP and shows the count in /readyz', async (t) => {
    const release: Array<() => void> = []
    const stubborn = stubbornTool(release)
    t.after(() => {
      for (const stop of release) stop()
    })
    const app = await buildTestApp(t, { tools: [stubborn], env: { TOOLGATE_MAX_ABANDONED_CALLS: '1' } })
    const batch = { method: 'POST' as const, url: '/execute', payload: chatCompletion([['call_1', 'stubborn', {}]]) }
    assert.equal((await app.inject(batch)).json<{ status: string }>().status, 'failed')
    const ready = await app.inject({ url: '/readyz' })
    assert.equal(ready.json<{ calls: { abandoned: number } }>().calls.abandoned, 1)
    const refused = await app.inject(batch)
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.headers['retry-after'], '1')
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'overloaded')
    const metrics = await app.inject({ url: '/metrics' })
    assert.match(metrics.body, /^toolgate_calls_abandoned 1$/m)
  })
})
