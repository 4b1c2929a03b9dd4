import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { z } from 'zod'
import type { AnsweredCall } from '../../src/batch/call-result.ts'
import type { BatchResult } from '../../src/batch/executor.ts'
import { executorOptionsOf, type ExecutorOptions } from '../../src/batch/executor-options.ts'
import { Executor } from '../../src/batch/executor.ts'
import { formatReply } from '../../src/batch/format-reply.ts'
import type { RawToolCall } from '../../src/providers/provider.ts'
import { openaiChat } from '../../src/providers/openai-chat.ts'
import { ToolRegistry } from '../../src/tools/registry.ts'
import { handOver } from '../../src/tools/content.ts'
import { defineTool, ToolDefinitionError, type Tool } from '../../src/tools/tool.ts'
import { testConfig, waitFor } from '../helpers/app.ts'
import { concurrencyProbe, flakyTool, hangTool, sleepTool, throwTool, unserializableTool } from '../helpers/tools.ts'

const log = pino({ level: 'silent' })

function executor(tools: Tool[], options: Partial<ExecutorOptions> = {}): Executor {
  return new Executor(new ToolRegistry(tools), { ...testConfig(), ...options })
}

function call(id: string, name: string, args: unknown = {}): RawToolCall {
  return { id, name, arguments: typeof args === 'string' ? args : JSON.stringify(args), path: `tool_calls[${id}]` }
}

async function run(tools: Tool[], calls: RawToolCall[], options: Partial<ExecutorOptions> = {}) {
  return formatReply(await executor(tools, options).execute(calls, { log }))
}

describe('Executor', () => {
  it("answers in the calls' order with the model's ids when they finish out of order", async () => {
    const finished: string[] = []
    const recording = defineTool({
      ...sleepTool,
      async execute(args: { ms: number }, context) {
        const result = await sleepTool.execute(args, context)
        finished.push(context.callId)
        return result
      },
    })
    const reply = await run(
      [recording],
      [call('call_slow', 'sleep', { ms: 120 }), call('call_fast', 'sleep', { ms: 10 }), call('call_mid', 'sleep', { ms: 60 })],
    )
    assert.deepEqual(finished, ['call_fast', 'call_mid', 'call_slow'])
    assert.deepEqual(
      reply.messages.map((message) => message.tool_call_id),
      ['call_slow', 'call_fast', 'call_mid'],
    )
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.output]),
      [
        ['call_slow', { waited: 120 }],
        ['call_fast', { waited: 10 }],
        ['call_mid', { waited: 60 }],
      ],
    )
    assert.equal(reply.status, 'complete')
  })

  it('runs the calls of a batch at the same time', async () => {
    const { tool, stats } = concurrencyProbe('probe', 50)
    const reply = await run(
      [tool],
      ['a', 'b', 'c', 'd', 'e'].map((id) => call(id, 'probe')),
    )
    assert.equal(reply.status, 'complete')
    assert.equal(stats.peak, 5)
  })

  it('never runs more calls at once than its concurrency, and answers them all', async () => {
    const { tool, stats } = concurrencyProbe('probe', 20)
    const reply = await run(
      [tool],
      Array.from({ length: 7 }, (_, index) => call(`c${String(index)}`, 'probe')),
      { concurrency: 2 },
    )
    assert.equal(reply.status, 'complete')
    assert.equal(reply.messages.length, 7)
    assert.equal(stats.peak, 2)
  })

  it("caps a tool's own concurrency without holding back other tools", async () => {
    const capped = concurrencyProbe('capped', 40, { concurrency: 1 })
    const free = concurrencyProbe('free', 40)
    const calls = ['1', '2', '3'].flatMap((n) => [call(`capped${n}`, 'capped'), call(`free${n}`, 'free')])
    const reply = await run([capped.tool, free.tool], calls)
    assert.equal(reply.status, 'complete')
    assert.equal(capped.stats.peak, 1)
    assert.equal(free.stats.peak, 3)
  })

  it("lets a tool's capped calls wait in its own queue, not in the shared slots", async () => {
    // Two shared slots and three calls of a tool capped at one: the two waiting for the cap must not
    // hold the second slot, or the free call behind them would wait for the first capped one.
    const gate = Promise.withResolvers<undefined>()
    const capped = defineTool({
      name: 'capped',
      description: 'Waits for the gate.',
      inputSchema: z.object({}),
      concurrency: 1,
      execute: () => gate.promise,
    })
    let freeAnswered = false
    const gateway = executor([capped, sleepTool], { concurrency: 2 })
    const observer = { callAnswered: ({ result }: AnsweredCall) => (freeAnswered ||= result.id === 'free') }
    const pending = gateway.execute(
      [call('capped1', 'capped'), call('capped2', 'capped'), call('capped3', 'capped'), call('free', 'sleep', { ms: 1 })],
      { log, observer },
    )
    try {
      await waitFor(() => freeAnswered, 'the free call to be answered while the capped ones hold their own queue')
    } finally {
      gate.resolve(undefined)
    }
    assert.equal(formatReply(await pending).status, 'complete')
  })

  it("keeps a tool's concurrency cap across a reload that leaves the cap unchanged", async () => {
    const { tool, stats } = concurrencyProbe('capped', 100, { concurrency: 1 })
    const gateway = executor([tool])
    const before = gateway.execute([call('before', 'capped')], { log })
    await waitFor(() => stats.running === 1, 'the first call to start')
    gateway.replaceRegistry(new ToolRegistry([{ ...tool, description: 'The same cap, reloaded.' }]))
    const after = gateway.execute([call('after', 'capped')], { log })
    assert.deepEqual([formatReply(await before).status, formatReply(await after).status], ['complete', 'complete'])
    assert.equal(stats.peak, 1, 'the call after the reload waited for the one before it')
  })

  it('cuts a hung tool at its deadline while the other calls succeed', async () => {
    const reply = await run([hangTool({ timeoutMs: 150 }), sleepTool], [call('stuck', 'hang'), call('fine', 'sleep', { ms: 10 })])
    assert.equal(reply.status, 'partial')
    const [stuck, fine] = reply.results
    assert.equal(stuck?.error?.code, 'timeout')
    assert.match(stuck.error.message, /did not finish within its deadline of 150 ms/)
    assert.ok(stuck.durationMs >= 145)
    assert.equal(fine?.ok, true)
    assert.deepEqual(JSON.parse(reply.messages[0]?.content ?? ''), { error: stuck.error })
  })

  it('frees the slot of a tool that ignores its abort signal', async () => {
    // One slot: if the hung call kept it, the second call could never start.
    const gateway = executor([hangTool({ timeoutMs: 50 }), sleepTool], { concurrency: 1, maxQueuedCalls: 4 })
    const first = formatReply(await gateway.execute([call('stuck', 'hang'), call('next', 'sleep', { ms: 1 })], { log }))
    assert.deepEqual(
      first.results.map((result) => result.error?.code ?? 'ok'),
      ['timeout', 'ok'],
    )
    // Its slot is free; the hung tool is counted as abandoned until it stops (it never does).
    assert.deepEqual(gateway.stats, { running: 0, waiting: 0, capacity: 5, abandoned: 1 })
  })

  it('retries a retryable failure with exponential backoff and succeeds', async () => {
    const { tool, attemptsAt } = flakyTool(2)
    const reply = await run([tool], [call('a', 'flaky')], { retryBaseDelayMs: 40, retryMaxDelayMs: 1000, random: () => 0.999 })
    assert.equal(reply.status, 'complete')
    assert.equal(reply.results[0]?.attempts, 3)
    assert.deepEqual(reply.results[0].output, { attempt: 3 })
    const [first = 0, second = 0, third = 0] = attemptsAt
    // Full jitter pinned to its ceiling: ~40 ms, then ~80 ms.
    assert.ok(second - first >= 37, `first backoff ${String(second - first)} ms`)
    assert.ok(third - second >= 77, `second backoff ${String(third - second)} ms`)
  })

  it('gives up after the retries it is allowed, with the last error', async () => {
    const { tool } = flakyTool(10, { retries: 2 })
    const reply = await run([tool], [call('a', 'flaky')], { random: () => 0 })
    assert.equal(reply.results[0]?.attempts, 3)
    assert.equal(reply.results[0].error?.code, 'tool_error')
    assert.equal(reply.results[0].error.message, 'upstream is down (attempt 3)')
  })

  it('keeps retries inside the deadline: no backoff that would outlast it', async () => {
    const { tool, attemptsAt } = flakyTool(10, { retries: 5, timeoutMs: 250 })
    // Backoff 100 ms (fits in the 250 ms), then 200 ms (does not fit in what is left).
    const reply = await run([tool], [call('a', 'flaky')], { retryBaseDelayMs: 100, random: () => 0.999 })
    assert.equal(attemptsAt.length, 2)
    assert.equal(reply.results[0]?.attempts, 2)
    assert.equal(reply.results[0].error?.code, 'tool_error')
  })

  it('retries an attempt of an idempotent tool that timed out, within the call deadline', async () => {
    const tool = defineTool({
      name: 'slow_once',
      description: 'Hangs on the first attempt only.',
      inputSchema: z.object({}),
      timeoutMs: 5_000,
      attemptTimeoutMs: 60,
      retries: 1,
      idempotent: true,
      execute: (_args, { attempt }) => (attempt === 1 ? new Promise<never>(() => undefined) : { attempt }),
    })
    const reply = await run([tool], [call('a', 'slow_once')], { random: () => 0 })
    assert.equal(reply.status, 'complete')
    assert.equal(reply.results[0]?.attempts, 2)
  })

  it('answers timeout naming the attempts when every attempt timed out', async () => {
    const reply = await run([hangTool({ timeoutMs: 5_000, attemptTimeoutMs: 30, retries: 2, readOnly: true })], [call('a', 'hang')], {
      random: () => 0,
    })
    assert.equal(reply.results[0]?.error?.code, 'timeout')
    assert.equal(reply.results[0].attempts, 3)
    assert.match(reply.results[0].error.message, /attempt 3 of hang did not finish within 30 ms/)
  })

  it('never retries a failure that is not retryable, nor invalid arguments', async () => {
    let runs = 0
    const failing = defineTool({
      name: 'failing',
      description: 'Fails for good.',
      inputSchema: z.object({ n: z.int() }),
      retries: 3,
      execute: () => {
        runs++
        throw new Error('permanent failure')
      },
    })
    const reply = await run([failing], [call('a', 'failing', { n: 1 }), call('b', 'failing', { n: 'one' })])
    assert.equal(runs, 1)
    assert.deepEqual(
      reply.results.map((result) => [result.error?.code, result.attempts]),
      [
        ['tool_error', 1],
        ['invalid_arguments', 0],
      ],
    )
  })

  it('answers unknown_tool for names that exist only on Object.prototype', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'get_wether']
    const reply = await run(
      [sleepTool],
      names.map((name, index) => call(`c${String(index)}`, name)),
    )
    assert.equal(reply.status, 'failed')
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      names.map(() => 'unknown_tool'),
    )
    assert.match(reply.results[0]?.error?.message ?? '', /Tools: sleep\./)
  })

  it('suggests the closest tool name to a misspelt one', async () => {
    const reply = await run([sleepTool, throwTool], [call('a', 'slep')])
    assert.match(reply.results[0]?.error?.message ?? '', /Did you mean "sleep"\?/)
  })

  it('answers invalid_arguments naming each path that does not match the schema', async () => {
    const reply = await run([sleepTool], [call('a', 'sleep', { ms: 'soon' }), call('b', 'sleep', {}), call('c', 'sleep', '{oops')])
    const messages = reply.results.map((result) => result.error?.message ?? '')
    assert.ok(reply.results.every((result) => result.error?.code === 'invalid_arguments'))
    assert.match(messages[0] ?? '', /^arguments do not match the schema of sleep: arguments\.ms: .*expected number, received string/)
    assert.match(messages[1] ?? '', /arguments\.ms: .*received undefined/)
    assert.match(messages[2] ?? '', /not valid JSON/)
  })

  it('answers tool_error for anything thrown, not only Errors', async () => {
    const kinds = ['error', 'string', 'null', 'object', 'number', 'undefined']
    const reply = await run(
      [throwTool],
      kinds.map((kind) => call(kind, 'throw', { kind })),
    )
    assert.deepEqual(
      reply.results.map((result) => [result.error?.code, result.error?.message]),
      [
        ['tool_error', 'disk on fire'],
        ['tool_error', 'a bare string'],
        ['tool_error', 'null was thrown'],
        ['tool_error', '{"reason":"quota"}'],
        ['tool_error', '42 was thrown'],
        ['tool_error', 'undefined was thrown'],
      ],
    )
  })

  it('answers tool_error when what a tool returns has a throwing `then`, and timeout for a thenable that never settles', async () => {
    const hostile = defineTool({
      name: 'hostile',
      description: 'Returns a thenable whose then getter throws.',
      inputSchema: z.object({}),
      execute: () =>
        Object.defineProperty({}, 'then', {
          get() {
            throw new Error('then trap')
          },
        }),
    })
    const stuck = defineTool({
      name: 'stuck',
      description: 'Returns a thenable that never calls back.',
      inputSchema: z.object({}),
      timeoutMs: 50,
      execute: () => ({ then: () => undefined }),
    })
    const reply = await run([hostile, stuck], [call('a', 'hostile'), call('b', 'stuck')])
    assert.deepEqual(
      reply.results.map((result) => [result.error?.code, result.error?.message.slice(0, 9)]),
      [
        ['tool_error', 'then trap'],
        ['timeout', 'stuck did'],
      ],
    )
  })

  it('answers invalid_result for a result JSON cannot carry', async () => {
    const reply = await run(
      [unserializableTool],
      [call('a', 'unserializable', { kind: 'cycle' }), call('b', 'unserializable', { kind: 'bigint' })],
    )
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      ['invalid_result', 'invalid_result'],
    )
    assert.match(reply.results[1]?.error?.message ?? '', /BigInt/)
  })

  it('reports partial and failed batches with the aggregated errors', async () => {
    const partial = await run(
      [sleepTool, throwTool],
      [call('a', 'sleep', { ms: 1 }), call('b', 'throw', { kind: 'error' }), call('c', 'nope')],
    )
    assert.equal(partial.status, 'partial')
    assert.equal(
      partial.errors,
      'Multiple errors occurred:\nthrow: disk on fire\nnope: there is no tool named "nope". Tools: sleep, throw.',
    )
    const failed = await run([throwTool], [call('a', 'throw', { kind: 'string' }), call('b', 'throw', { kind: 'number' })])
    assert.equal(failed.status, 'failed')
    assert.equal(failed.errors, 'Multiple errors occurred:\nthrow: a bare string\nthrow: 42 was thrown')
    assert.equal(failed.messages.length, 2)
  })

  it('sums the durations of the calls as the cost of running them one after another', async () => {
    const reply = await run([sleepTool], [call('a', 'sleep', { ms: 40 }), call('b', 'sleep', { ms: 40 })])
    const sum = reply.results.reduce((total, result) => total + result.durationMs, 0)
    assert.ok(Math.abs(reply.timing.sumMs - sum) < 0.02)
    assert.ok(reply.timing.sumMs >= 76)
  })

  it('refuses a batch whole when admitting it would overflow the queue, and loses nothing admitted', async () => {
    const { tool, stats } = concurrencyProbe('probe', 80)
    const gateway = executor([tool], { concurrency: 1, maxQueuedCalls: 2 })
    const admitted = gateway.execute(
      ['a', 'b', 'c'].map((id) => call(id, 'probe')),
      { log },
    )
    await assert.rejects(gateway.execute([call('d', 'probe')], { log }), (error: unknown) => {
      assert.ok(error instanceof Error && 'code' in error && error.code === 'queue_full')
      assert.ok('retryAfterSeconds' in error && error.retryAfterSeconds === 1)
      return true
    })
    const reply = formatReply(await admitted)
    assert.equal(reply.status, 'complete')
    assert.equal(stats.started, 3, 'the refused call never ran')
    // Room again once the batch is answered.
    assert.equal(formatReply(await gateway.execute([call('e', 'probe')], { log })).status, 'complete')
  })

  it("cancels a batch's running and queued calls when its signal aborts", async () => {
    const { tool, stats } = concurrencyProbe('probe', 10_000)
    const gateway = executor([tool], { concurrency: 2 })
    const controller = new AbortController()
    const pending = gateway.execute(
      ['a', 'b', 'c', 'd'].map((id) => call(id, 'probe')),
      { log, signal: controller.signal },
    )
    await waitFor(() => stats.running === 2, 'two calls to run')
    controller.abort()
    const reply = formatReply(await pending)
    assert.equal(reply.status, 'failed')
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      ['cancelled', 'cancelled', 'cancelled', 'cancelled'],
    )
    assert.equal(stats.started, 2, 'the queued calls never started')
    assert.equal(stats.aborted, 2, 'the running calls saw their signal abort')
    // The cancelled calls' queue entries leave as soon as slots reach them.
    await waitFor(() => gateway.stats.waiting === 0, 'the queue to drain')
    assert.deepEqual(gateway.stats, { running: 0, waiting: 0, capacity: 2 + testConfig().maxQueuedCalls, abandoned: 0 })
  })

  it('answers the rest of a sequential batch as cancelled when its signal aborts mid-way', async () => {
    const { tool, stats } = concurrencyProbe('probe', 10_000)
    const gateway = executor([tool])
    const controller = new AbortController()
    const pending = gateway.execute(
      ['a', 'b', 'c'].map((id) => call(id, 'probe')),
      { log, signal: controller.signal, mode: 'sequential' },
    )
    await waitFor(() => stats.running === 1, 'the first call to run')
    controller.abort()
    const reply = formatReply(await pending)
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      ['cancelled', 'cancelled', 'cancelled'],
    )
    assert.equal(stats.started, 1)
  })

  it('answers a batch that arrives after cancelAll at once, running nothing', async () => {
    const { tool, stats } = concurrencyProbe('probe', 10_000)
    const gateway = executor([tool])
    gateway.cancelAll()
    const reply = formatReply(await gateway.execute([call('a', 'probe'), call('b', 'probe')], { log }))
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      ['cancelled', 'cancelled'],
    )
    assert.equal(stats.started, 0)
  })

  it('answers every call in flight as cancelled on cancelAll (shutdown)', async () => {
    const { tool } = concurrencyProbe('probe', 10_000)
    const gateway = executor([tool])
    const pending = gateway.execute([call('a', 'probe')], { log })
    await waitFor(() => gateway.stats.running === 1, 'the call to run')
    gateway.cancelAll()
    const reply = formatReply(await pending)
    assert.equal(reply.results[0]?.error?.code, 'cancelled')
    assert.match(reply.results[0].error.message, /shutting down/)
  })
})

describe('Executor options', () => {
  it('refuses an option out of range at construction, naming the option and its value', () => {
    const registry = new ToolRegistry([sleepTool])
    for (const [option, value] of [
      ['concurrency', 0],
      ['maxQueuedCalls', -1],
      ['callTimeoutMs', 1.5],
      ['maxResultBytes', Number.NaN],
      ['maxCallsPerRequest', '8'],
    ] as const) {
      assert.throws(
        () => new Executor(registry, { ...testConfig(), [option]: value }),
        new RegExp(`^TypeError: Executor option ${option} must be an integer from \\d+ up, got ${String(value)} \\(${typeof value}\\)$`),
      )
    }
  })

  it('takes from the configuration only what it uses: no API or admin key', () => {
    const config = testConfig({ TOOLGATE_ADMIN_KEY: 'admin-key-0123456789', TOOLGATE_API_KEYS: 'api-key-0123456789' })
    const options = executorOptionsOf(config)
    assert.deepEqual(Object.keys(options).sort(), [
      'callTimeoutMs',
      'concurrency',
      'maxAbandonedCalls',
      'maxArgumentBytes',
      'maxArgumentDepth',
      'maxCallsPerRequest',
      'maxQueuedCalls',
      'maxResultBytes',
      'retryBaseDelayMs',
      'retryMaxDelayMs',
    ])
  })
})

describe('ToolRegistry', () => {
  it('refuses two tools with one name', () => {
    assert.throws(() => new ToolRegistry([sleepTool, { ...sleepTool }]), /"sleep" is registered twice/)
  })

  it('refuses a bad definition with a ToolDefinitionError, which the server and a reload tell by its class', () => {
    assert.throws(
      () => new ToolRegistry([{ ...sleepTool, concurrency: 1.5 }]),
      (error: unknown) => error instanceof ToolDefinitionError && /concurrency must be a positive integer, got 1.5/.test(error.message),
    )
  })

  it('refuses names the providers would refuse, and bad limits', () => {
    assert.throws(() => new ToolRegistry([{ ...sleepTool, name: 'has space' }]), /must be 1 to 64 letters/)
    assert.throws(() => new ToolRegistry([{ ...sleepTool, name: '' }]), /must be 1 to 64 letters/)
    assert.throws(() => new ToolRegistry([{ ...sleepTool, timeoutMs: 0 }]), /timeoutMs must be a positive integer/)
    assert.throws(() => new ToolRegistry([{ ...sleepTool, retries: -1 }]), /retries must be a non-negative integer/)
  })

  it('refuses an input schema that is not an object schema', () => {
    assert.throws(() => new ToolRegistry([{ ...sleepTool, inputSchema: z.string() }]), /inputSchema must be an object schema/)
  })

  it('describes its tools as OpenAI function tools with the JSON Schema of their zod schema', () => {
    const [definition] = openaiChat.declare(new ToolRegistry([sleepTool]).descriptions())
    assert.deepEqual(definition, {
      type: 'function',
      function: {
        name: 'sleep',
        description: 'Waits, then answers.',
        parameters: {
          type: 'object',
          properties: { ms: { type: 'integer', minimum: 0, maximum: 60_000 } },
          required: ['ms'],
        },
      },
    })
  })

  describe('a call whose slots are free', () => {
    const instant = (name: string, execute: () => unknown = () => ({ ok: true })) =>
      defineTool({ name, description: 'Answers at once.', inputSchema: z.object({}), execute })
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length

    it('is answered synchronously when its tool answers synchronously, with no timer armed for it', async () => {
      const timersWhileRunning: number[] = []
      const before = timers()
      const tool = instant('instant', () => {
        timersWhileRunning.push(timers())
        return { ok: true }
      })
      const answered: string[] = []
      const pending = executor([tool]).execute([call('a', 'instant'), call('b', 'instant'), call('c', 'instant')], {
        log,
        observer: { callAnswered: ({ result }) => answered.push(result.id) },
      })
      assert.deepEqual(answered, ['a', 'b', 'c'], 'answered before execute returned')
      assert.deepEqual(timersWhileRunning, [before, before, before])
      const reply = formatReply(await pending)
      assert.equal(reply.status, 'complete')
      assert.deepEqual(
        reply.results.map((result) => [result.attempts, result.queuedMs]),
        [
          [1, 0],
          [1, 0],
          [1, 0],
        ],
      )
    })

    it('is not started ahead of calls that wait for a slot', async () => {
      const gate = Promise.withResolvers<undefined>()
      const ran: string[] = []
      const gated = defineTool({
        name: 'gated',
        description: 'Waits for the gate.',
        inputSchema: z.object({}),
        execute: () => gate.promise,
      })
      const quick = instant('quick', () => ran.push('quick'))
      const gateway = executor([gated, quick], { concurrency: 1 })
      const first = gateway.execute([call('g', 'gated')], { log })
      const waiting = gateway.execute([call('w', 'quick')], { log })
      const later = gateway.execute([call('l', 'quick')], { log })
      await delay(10)
      assert.deepEqual(ran, [], 'nothing runs while the one slot is held by a tool that returned a promise')
      assert.deepEqual(gateway.stats, { running: 1, waiting: 2, capacity: gateway.capacity, abandoned: 0 })
      gate.resolve(undefined)
      const replies = await Promise.all([first, waiting, later])
      assert.deepEqual(
        replies.map((batch) => formatReply(batch).status),
        ['complete', 'complete', 'complete'],
      )
      assert.ok((replies[1].calls[0]?.result.queuedMs ?? 0) > 5, 'the waiting call waited')
      assert.deepEqual(gateway.stats, { running: 0, waiting: 0, capacity: gateway.capacity, abandoned: 0 })
    })

    it('holds its slot when its tool re-enters the executor before returning a promise', async () => {
      // One slot, taken by `outer` without the queue: a call its synchronous code enqueues must
      // wait for it, not be started by a queue that does not count `outer` yet.
      let outerDone = false
      let probeSawOuter: boolean | undefined
      let nested: Promise<BatchResult> | undefined
      const probe = instant('probe', () => {
        probeSawOuter = !outerDone
        return { ok: true }
      })
      const outer = instant('outer', async () => {
        nested = gateway.execute([call('inner', 'probe')], { log })
        await delay(30)
        outerDone = true
        return { ok: true }
      })
      const gateway = executor([outer, probe], { concurrency: 1 })
      const first = formatReply(await gateway.execute([call('o', 'outer')], { log }))
      assert.ok(nested !== undefined)
      const second = formatReply(await nested)
      assert.deepEqual([first.status, second.status], ['complete', 'complete'])
      assert.equal(probeSawOuter, false, 'the nested call ran after the outer one')
    })

    it('is answered cancelled, running nothing, when its batch is cancelled before it starts', async () => {
      let ran = 0
      const reply = formatReply(
        await executor([instant('counted', () => ++ran)]).execute([call('a', 'counted')], { log, signal: AbortSignal.abort('gone') }),
      )
      assert.equal(ran, 0)
      assert.equal(reply.results[0]?.error?.code, 'cancelled')
      assert.equal(reply.results[0].attempts, 0)
    })
  })

  it('answers a copy of an object result, taken when answered, unless its tool handed it over', async () => {
    const kept = { n: 1, nested: { list: [1, 2] } }
    const handed = { n: 2 }
    const tools = [
      defineTool({ name: 'kept', description: 'Keeps its result.', inputSchema: z.object({}), execute: () => kept }),
      defineTool({ name: 'handed', description: 'Hands its result over.', inputSchema: z.object({}), execute: () => handOver(handed) }),
    ]
    const batch = await executor(tools).execute([call('a', 'kept'), call('b', 'handed')], { log })
    kept.nested.list.push(3)
    const [first, second] = batch.calls
    assert.deepEqual(first?.result.output, { n: 1, nested: { list: [1, 2] } })
    assert.notEqual(first.result.output, kept)
    assert.equal(first.content, '{"n":1,"nested":{"list":[1,2]}}')
    assert.equal(second?.result.output, handed, 'handed over: answered as it is')
    assert.equal(second.content, '{"n":2}')
  })
})
