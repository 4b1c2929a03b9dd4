import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { z } from 'zod'
import type { ExecutorOptions } from '../../src/batch/executor-options.ts'
import { Executor } from '../../src/batch/executor.ts'
import { formatReply } from '../../src/batch/format-reply.ts'
import type { CallGate } from '../../src/batch/prepare-call.ts'
import { CallError } from '../../src/errors.ts'
import { maxLaneKeyChars } from '../../src/limits.ts'
import type { RawToolCall } from '../../src/providers/provider.ts'
import { laneOf } from '../../src/tools/lane.ts'
import { ToolRegistry } from '../../src/tools/registry.ts'
import { defineTool, ToolDefinitionError, type Tool } from '../../src/tools/tool.ts'
import { testConfig, waitFor } from '../helpers/app.ts'

const log = pino({ level: 'silent' })

function call(id: string, name: string, args: unknown = {}): RawToolCall {
  return { id, name, arguments: JSON.stringify(args), path: `tool_calls[${id}]` }
}

/**
 * Tools that tell the test what they do: each call logs `start <id>` and `end <id>`, waits for its
 * gate if the test holds one for its id (honouring its signal), and fails when told to.
 */
function recorder() {
  const events: string[] = []
  const gates = new Map<string, PromiseWithResolvers<undefined>>()
  const hold = (id: string) => {
    const gate = Promise.withResolvers<undefined>()
    gates.set(id, gate)
    return () => {
      gate.resolve(undefined)
    }
  }
  const args = z.object({ path: z.string().optional(), fail: z.boolean().optional(), ms: z.int().optional() })
  const make = (name: string, options: Partial<Tool> = {}): Tool => ({
    ...defineTool({
      name,
      description: `Records its calls (${name}).`,
      inputSchema: args,
      async execute({ fail, ms }, { callId, signal }) {
        events.push(`start ${callId}`)
        try {
          const gate = gates.get(callId)
          if (gate) {
            await new Promise((resolve, reject) => {
              gate.promise.then(resolve, reject)
              signal.addEventListener('abort', () => {
                reject(new Error('aborted'))
              })
            })
          }
          if (ms !== undefined) await delay(ms, undefined, { signal })
          if (fail === true) throw new Error(`${callId} failed on purpose`)
          return { done: callId }
        } finally {
          events.push(`end ${callId}`)
        }
      },
    }),
    ...options,
  })
  const before = (first: string, second: string) => {
    const [a, b] = [events.indexOf(first), events.indexOf(second)]
    assert.ok(a !== -1 && b !== -1 && a < b, `"${first}" before "${second}" in ${JSON.stringify(events)}`)
  }
  return { events, hold, make, before }
}

function gatewayOf(tools: Tool[], options: Partial<ExecutorOptions> = {}): Executor {
  return new Executor(new ToolRegistry(tools), { ...testConfig(), ...options })
}

describe('ordering lanes', () => {
  it("runs the calls of one lane one after another in the model's order, while other lanes and unlaned calls overlap them", async () => {
    const { events, hold, make, before } = recorder()
    const write = make('write_file', { lane: 'file:{path}' })
    const read = make('read_file', { lane: 'file:{path}' })
    const other = make('other')
    const gateway = gatewayOf([write, read, other])
    const releaseWriteA = hold('w_a')
    const pending = gateway.execute(
      [
        call('w_a', 'write_file', { path: 'a' }),
        call('r_a', 'read_file', { path: 'a' }),
        call('w_b', 'write_file', { path: 'b' }),
        call('r_b', 'read_file', { path: 'b' }),
        call('x', 'other'),
        call('w_a2', 'write_file', { path: 'a' }),
      ],
      { log },
    )
    // While the first write of a is held, lane b and the unlaned call run to their end.
    await waitFor(() => events.includes('end r_b') && events.includes('end x'), 'lane b and the unlaned call to finish')
    assert.ok(!events.includes('start r_a'), 'the read of a waits for the write of a')
    assert.equal(gateway.stats.running, 1, 'the waiting calls of lane a hold no slot')
    releaseWriteA()
    const reply = formatReply(await pending)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.results.map((result) => result.id),
      ['w_a', 'r_a', 'w_b', 'r_b', 'x', 'w_a2'],
    )
    before('end w_a', 'start r_a')
    before('end r_a', 'start w_a2')
    before('end w_b', 'start r_b')
    before('start w_b', 'end w_a')
    const readA = reply.results[1]
    assert.ok(readA !== undefined && readA.queuedMs > 0, 'the wait for its lane counts in queuedMs')
  })

  it('gives calls whose placeholder argument is absent one shared lane, the template as written', async () => {
    const { events, hold, make, before } = recorder()
    const write = make('write_file', { lane: 'file:{path}' })
    const gateway = gatewayOf([write])
    const release = hold('n1')
    const pending = gateway.execute([call('n1', 'write_file'), call('n2', 'write_file'), call('p', 'write_file', { path: 'p' })], { log })
    await waitFor(() => events.includes('end p'), 'the call with a path to finish')
    assert.ok(!events.includes('start n2'))
    release()
    assert.equal(formatReply(await pending).status, 'complete')
    before('end n1', 'start n2')
  })

  it('puts every call of a tool in one lane when its template has no placeholder', async () => {
    const { hold, make, before, events } = recorder()
    const deploy = make('deploy', { lane: 'deploys' })
    const gateway = gatewayOf([deploy])
    const release = hold('d1')
    const pending = gateway.execute([call('d1', 'deploy', { path: 'x' }), call('d2', 'deploy', { path: 'y' })], { log })
    await waitFor(() => events.includes('start d1'), 'd1 to start')
    await delay(20)
    assert.ok(!events.includes('start d2'))
    release()
    assert.equal(formatReply(await pending).status, 'complete')
    before('end d1', 'start d2')
  })

  it('stops a lane after a failure of a tool declaring stopOnFailure: its later calls are answered skipped and never run', async () => {
    const { events, make } = recorder()
    const write = make('write_file', { lane: { key: 'file:{path}', stopOnFailure: true } })
    const read = make('read_file', { lane: 'file:{path}' })
    const gateway = gatewayOf([write, read])
    const reply = formatReply(
      await gateway.execute(
        [
          call('w1', 'write_file', { path: 'a', fail: true, ms: 5 }),
          call('r1', 'read_file', { path: 'a' }),
          call('w2', 'write_file', { path: 'a' }),
          call('w3', 'write_file', { path: 'b' }),
        ],
        { log },
      ),
    )
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.error?.code ?? 'ok', result.attempts]),
      [
        ['w1', 'tool_error', 1],
        ['r1', 'skipped', 0],
        ['w2', 'skipped', 0],
        ['w3', 'ok', 1],
      ],
    )
    for (const skipped of [reply.results[1], reply.results[2]]) {
      assert.match(skipped?.error?.message ?? '', /"w1" of write_file .*"file:a" failed \(tool_error\)/)
    }
    assert.ok(!events.includes('start r1') && !events.includes('start w2'))
    assert.match(reply.errors ?? '', /read_file: not run/)
    assert.deepEqual(gateway.stats, { running: 0, waiting: 0, capacity: gateway.capacity, abandoned: 0 })
  })

  it('keeps a lane going after the failure of a tool that does not stop it', async () => {
    const { make } = recorder()
    const read = make('read_file', { lane: 'file:{path}' })
    const write = make('write_file', { lane: { key: 'file:{path}', stopOnFailure: true } })
    const reply = formatReply(
      await gatewayOf([read, write]).execute(
        [call('r1', 'read_file', { path: 'a', fail: true }), call('w1', 'write_file', { path: 'a' })],
        { log },
      ),
    )
    assert.deepEqual(
      reply.results.map((result) => result.error?.code ?? 'ok'),
      ['tool_error', 'ok'],
    )
  })

  for (const concurrency of [1, 2]) {
    it(`answers every call of interleaved lanes with TOOLGATE_CONCURRENCY=${String(concurrency)}, without a deadlock or a slot over the bound`, async () => {
      const { events, make } = recorder()
      let running = 0
      let peak = 0
      const counted = (tool: Tool): Tool => ({
        ...tool,
        async execute(args, context) {
          running++
          peak = Math.max(peak, running)
          try {
            return await tool.execute(args, context)
          } finally {
            running--
          }
        },
      })
      const write = counted(make('write_file', { lane: 'file:{path}' }))
      const capped = counted(make('capped', { lane: 'file:{path}', concurrency: 1 }))
      const free = counted(make('free'))
      const gateway = gatewayOf([write, capped, free], { concurrency })
      const calls = Array.from({ length: 12 }, (_, index) => {
        const name = ['write_file', 'capped', 'free'][index % 3] ?? 'free'
        return call(`c${String(index)}`, name, { path: ['a', 'b'][index % 2], ms: 2 })
      })
      const reply = formatReply(await gateway.execute(calls, { log }))
      assert.equal(reply.status, 'complete')
      assert.ok(peak <= concurrency, `at most ${String(concurrency)} at once, saw ${String(peak)}`)
      // Within each lane, each call ended before the next began.
      for (const path of ['a', 'b']) {
        const lane = calls.filter((each) => each.name !== 'free' && (JSON.parse(String(each.arguments)) as { path: string }).path === path)
        for (let index = 1; index < lane.length; index++) {
          assert.ok(events.indexOf(`end ${lane[index - 1]?.id ?? ''}`) < events.indexOf(`start ${lane[index]?.id ?? ''}`))
        }
      }
      assert.deepEqual(gateway.stats, { running: 0, waiting: 0, capacity: gateway.capacity, abandoned: 0 })
    })
  }

  it('answers every call of a cancelled batch, the ones waiting for their lane cancelled without running', async () => {
    const { events, hold, make } = recorder()
    const write = make('write_file', { lane: { key: 'file:{path}', stopOnFailure: true } })
    const gateway = gatewayOf([write], { concurrency: 1 })
    hold('w1')
    const controller = new AbortController()
    const pending = gateway.execute(
      [call('w1', 'write_file', { path: 'a' }), call('w2', 'write_file', { path: 'a' }), call('w3', 'write_file', { path: 'b' })],
      { log, signal: controller.signal },
    )
    await waitFor(() => events.includes('start w1'), 'the first write to start')
    controller.abort()
    const reply = formatReply(await pending)
    assert.deepEqual(
      reply.results.map((result) => result.error?.code),
      ['cancelled', 'cancelled', 'cancelled'],
    )
    assert.ok(!events.includes('start w2'))
    await waitFor(() => gateway.stats.waiting === 0, 'the queue to drain')
    assert.deepEqual(gateway.stats, { running: 0, waiting: 0, capacity: gateway.capacity, abandoned: 0 })
  })

  it('applies stopOnFailure in sequential mode too', async () => {
    const { make } = recorder()
    const write = make('write_file', { lane: { key: 'file:{path}', stopOnFailure: true } })
    const reply = formatReply(
      await gatewayOf([write]).execute(
        [
          call('w1', 'write_file', { path: 'a', fail: true }),
          call('w2', 'write_file', { path: 'b' }),
          call('w3', 'write_file', { path: 'a' }),
        ],
        { log, mode: 'sequential' },
      ),
    )
    assert.deepEqual(
      reply.results.map((result) => result.error?.code ?? 'ok'),
      ['tool_error', 'ok', 'skipped'],
    )
  })

  it('keeps a call held for approval in its lane: a lane stopping on failure skips what follows the hold', async () => {
    const { events, make } = recorder()
    const write = make('write_file', { lane: { key: 'file:{path}', stopOnFailure: true } })
    const read = make('read_file', { lane: 'file:{path}' })
    const hold: CallGate = {
      review: (prepared) => ({
        prepared: prepared.map((entry) =>
          entry.call.id.startsWith('held')
            ? {
                call: entry.call,
                ...(entry.tool ? { tool: entry.tool } : {}),
                error: new CallError('awaiting_approval', 'write_file awaits a human decision'),
                approval: { token: 'tok', expiresAt: '2026-12-02T00:00:00.000Z' },
              }
            : entry,
        ),
        undo: () => Promise.resolve(),
      }),
    }
    const reply = formatReply(
      await gatewayOf([write, read]).execute(
        [
          call('held_1', 'write_file', { path: 'a' }),
          call('r1', 'read_file', { path: 'a' }),
          call('r2', 'read_file', { path: 'b' }),
          call('w2', 'write_file', { path: 'b', fail: true }),
          call('held_2', 'write_file', { path: 'b' }),
        ],
        { log, approvals: hold },
      ),
    )
    // The second hold comes after a failure that stopped its lane: it is still answered with its hold, never skipped.
    assert.deepEqual(
      reply.results.map((result) => result.error?.code ?? 'ok'),
      ['awaiting_approval', 'skipped', 'ok', 'tool_error', 'awaiting_approval'],
    )
    assert.equal(reply.results[0]?.approval?.token, 'tok')
    assert.match(reply.results[1]?.error?.message ?? '', /"held_1" of write_file .* failed \(awaiting_approval\)/)
    assert.ok(!events.includes('start r1'))
  })

  it('answers a lane of tools that answer synchronously before execute returns', async () => {
    const answered: string[] = []
    const instant = defineTool({
      name: 'instant',
      description: 'Answers at once.',
      inputSchema: z.object({ path: z.string() }),
      lane: 'file:{path}',
      execute: ({ path }) => ({ path }),
    })
    const pending = gatewayOf([instant]).execute([call('a', 'instant', { path: 'p' }), call('b', 'instant', { path: 'p' })], {
      log,
      observer: { callAnswered: ({ result }) => answered.push(result.id) },
    })
    assert.deepEqual(answered, ['a', 'b'])
    assert.equal(formatReply(await pending).status, 'complete')
  })
})

describe('lane keys', () => {
  const tool = (lane: Tool['lane']): Tool =>
    defineTool({ name: 'laned', description: 'x', inputSchema: z.object({}), lane, execute: () => 1 })

  it('refuses a bad template when the registry is made', () => {
    for (const template of ['', 'file:{', 'file:}', 'file:{}', 'file:{a b}', 'file:{a..b}', 'x'.repeat(maxLaneKeyChars + 1)]) {
      assert.throws(() => new ToolRegistry([tool(template)]), ToolDefinitionError, template)
    }
    assert.throws(() => new ToolRegistry([tool({ key: 5 as unknown as string })]), ToolDefinitionError)
  })

  it('refuses a tool both readOnly and destructive', () => {
    assert.throws(() => new ToolRegistry([{ ...tool(undefined), readOnly: true, destructive: true }]), /both readOnly and destructive/)
  })

  it('fills placeholders from strings, numbers and dotted paths, and leaves others as written', () => {
    const lane = laneOf(tool('row:{table}/{id}/{meta.owner}'))
    assert.ok(lane)
    assert.equal(lane.keyOf({ table: 't', id: 7, meta: { owner: 'ann' } }), 'row:t/7/ann')
    assert.equal(lane.keyOf({ table: 't', id: true, meta: {} }), 'row:t/{id}/{meta.owner}')
    assert.equal(lane.keyOf({ table: 't', id: Number.NaN, meta: null }), 'row:t/{id}/{meta.owner}')
    // Own properties only: nothing from Object.prototype.
    assert.equal(
      lane.keyOf({ table: 'constructor', id: 1, meta: Object.create({ owner: 'inherited' }) as object }),
      'row:constructor/1/{meta.owner}',
    )
  })

  it('bounds a long computed key, keeping long keys apart', () => {
    const lane = laneOf(tool('file:{path}'))
    assert.ok(lane)
    const [first, second] = [lane.keyOf({ path: `${'p'.repeat(1_000)}1` }), lane.keyOf({ path: `${'p'.repeat(1_000)}2` })]
    assert.ok(first !== undefined && second !== undefined)
    assert.equal(first.length, maxLaneKeyChars)
    assert.equal(second.length, maxLaneKeyChars)
    assert.notEqual(first, second)
    assert.equal(lane.keyOf({ path: `${'p'.repeat(1_000)}1` }), first)
  })

  it('takes a key computed in code: undefined is no lane, a throw is a lane of the tool', () => {
    const lane = laneOf(
      tool({
        key: (args: unknown) => {
          const { path } = args as { path?: string }
          if (path === 'boom') throw new Error('boom')
          return path === undefined ? undefined : `file:${path.toLowerCase()}`
        },
      }),
    )
    assert.ok(lane)
    assert.equal(lane.keyOf({ path: 'A' }), 'file:a')
    assert.equal(lane.keyOf({}), undefined)
    assert.equal(lane.keyOf({ path: 'boom' }), 'tool:laned')
    assert.equal(lane.template, null)
  })
})
