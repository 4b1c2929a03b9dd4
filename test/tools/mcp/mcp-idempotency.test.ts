import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it, type TestContext } from 'node:test'
import { pino } from 'pino'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { parseConfigFile } from '../../../src/config/tools-file.ts'
import { RichContent } from '../../../src/tools/content.ts'
import { McpServerTools } from '../../../src/tools/mcp/mcp-server-tools.ts'
import type { Tool, ToolContext } from '../../../src/tools/tool.ts'
import { assistantMessage, buildTestApp } from '../../helpers/app.ts'

const metaFixture = new URL('../../fixtures/mcp-meta-server.ts', import.meta.url).pathname
const httpFixture = new URL('../../fixtures/mcp-http-server.ts', import.meta.url).pathname
const log = pino({ level: 'silent' })
const metaKey = 'io.toolgate/idempotency-key'

function context(attempt: number, idempotencyKey?: string): ToolContext {
  return {
    signal: new AbortController().signal,
    log,
    callId: 'call_1',
    attempt,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  }
}

/** A server entry of the configuration file, parsed as toolgate parses it. */
function serverEntry(yaml: string) {
  const [entry] = parseConfigFile(`mcp:\n${yaml}`, 'tools.yaml', {}).config.mcp
  assert.ok(entry)
  return entry
}

/** The stdio fixture whose tools answer the `_meta` they got, connected, with `extra` lines in its entry. */
async function metaServer(t: TestContext, extra = ''): Promise<McpServerTools> {
  const entry = serverEntry(`  - name: fix\n    command: ${process.execPath}\n    args: [${metaFixture}]\n${extra}`)
  const server = new McpServerTools(entry, { log, onToolsChanged: () => undefined })
  t.after(() => server.close())
  await server.connect()
  return server
}

function toolOf(server: McpServerTools, name: string): Tool {
  const tool = server.tools.find((candidate) => candidate.name === name)
  assert.ok(tool, `no tool ${name}`)
  return tool
}

/** The `_meta` the fixture's tool reports it received (null: none). */
async function metaSent(tool: Tool, ctx: ToolContext): Promise<unknown> {
  const output = await tool.execute({}, ctx)
  assert.ok(output instanceof RichContent)
  const [block] = output.blocks
  assert.ok(block?.type === 'text')
  return JSON.parse(block.text)
}

function flags(server: McpServerTools): Record<string, [idempotent: boolean | undefined, readOnly: boolean | undefined]> {
  return Object.fromEntries(server.tools.map((tool) => [tool.name, [tool.idempotent, tool.readOnly]]))
}

/** Starts the Streamable HTTP fixture (sessions, no event stream) on `port`; its URL and a way to kill it. */
async function httpServer(t: TestContext, port = 0): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [httpFixture, '--port', String(port), '--no-sse'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  t.after(() => child.kill('SIGKILL'))
  let url = ''
  for await (const line of createInterface({ input: child.stdout })) {
    url = /listening on (\S+)/.exec(line)?.[1] ?? ''
    if (url) break
  }
  assert.ok(url, 'the fixture did not start')
  return {
    url,
    port: Number(new URL(url).port),
    stop: async () => {
      child.kill('SIGKILL')
      await exited
    },
  }
}

describe('idempotency keys and flags of MCP tools', () => {
  it("sends the call's key in the tools/call _meta, the same on every attempt, and no _meta without one", async (t) => {
    const server = await metaServer(t)
    const tool = toolOf(server, 'fix__meta')
    assert.deepEqual(await metaSent(tool, context(1, 'key-a1b2c3')), { [metaKey]: 'key-a1b2c3' })
    assert.deepEqual(await metaSent(tool, context(2, 'key-a1b2c3')), { [metaKey]: 'key-a1b2c3' })
    assert.equal(await metaSent(tool, context(1)), null)
  })

  it('makes readOnlyHint and idempotentHint the flags of the tools (readOnly implying idempotent)', async (t) => {
    const server = await metaServer(t)
    assert.deepEqual(flags(server), {
      fix__meta: [false, false],
      fix__lookup: [true, true],
      fix__store: [true, false],
      fix__both_false: [false, false],
    })
  })

  it("lets the server entry's idempotent / readOnly override the annotations, either way", async (t) => {
    const [distrusted, idempotent, readOnly, notReadOnly] = await Promise.all([
      metaServer(t, '    idempotent: false\n'),
      metaServer(t, '    idempotent: true\n'),
      metaServer(t, '    readOnly: true\n'),
      metaServer(t, '    readOnly: false\n'),
    ])
    // idempotent: false disregards readOnlyHint too (a read-only tool would be idempotent).
    assert.deepEqual(flags(distrusted), {
      fix__meta: [false, false],
      fix__lookup: [false, false],
      fix__store: [false, false],
      fix__both_false: [false, false],
    })
    assert.deepEqual(flags(idempotent), {
      fix__meta: [true, false],
      fix__lookup: [true, true],
      fix__store: [true, false],
      fix__both_false: [true, false],
    })
    assert.deepEqual(flags(readOnly), {
      fix__meta: [true, true],
      fix__lookup: [true, true],
      fix__store: [true, true],
      fix__both_false: [true, true],
    })
    assert.deepEqual(flags(notReadOnly), {
      fix__meta: [false, false],
      fix__lookup: [false, false],
      fix__store: [true, false],
      fix__both_false: [false, false],
    })
  })

  it('sends the key over Streamable HTTP, and again with the call sent anew on the session that replaced a lost one', async (t) => {
    let running = await httpServer(t)
    const server = new McpServerTools(serverEntry(`  - name: web\n    url: ${running.url}\n`), { log, onToolsChanged: () => undefined })
    t.after(() => server.close())
    await server.connect()
    const tool = toolOf(server, 'web__meta')
    assert.deepEqual([tool.idempotent, tool.readOnly], [true, false])
    assert.deepEqual(await metaSent(tool, context(1, 'key-http')), { [metaKey]: 'key-http' })
    // Restarted, the server no longer knows the session: the call fails on it, a new session is
    // opened and the call (its tool is idempotent) sent again on it, with the same key.
    await running.stop()
    running = await httpServer(t, running.port)
    assert.deepEqual(await metaSent(tool, context(1, 'key-http')), { [metaKey]: 'key-http' })
    assert.equal(await metaSent(tool, context(1)), null)
  })

  it('carries the key a keyed POST /execute gives the call, and none without one', async (t) => {
    const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-key-')), 'tools.yaml')
    await writeFile(file, `mcp:\n  - name: fix\n    command: ${process.execPath}\n    args: [${metaFixture}]\n`)
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
    const sent = async (headers: Record<string, string>) => {
      const payload = assistantMessage([
        ['c1', 'fix__meta'],
        ['c2', 'fix__meta'],
      ])
      const reply = (await app.inject({ method: 'POST', url: '/execute', headers, payload })).json<ExecuteReply>()
      return reply.messages.map((message) => JSON.parse(message.content) as Record<string, string> | null)
    }
    const [first, second] = await sent({ 'idempotency-key': 'batch-7' })
    assert.ok(first && second)
    assert.match(first[metaKey] ?? '', /^[\w-]{8,}$/)
    assert.match(second[metaKey] ?? '', /^[\w-]{8,}$/)
    assert.notEqual(first[metaKey], second[metaKey], 'each call of the batch has a key of its own')
    // The same batch again with the same key answers the same keys.
    assert.deepEqual(await sent({ 'idempotency-key': 'batch-7' }), [first, second])
    assert.deepEqual(await sent({}), [null, null])
  })
})
