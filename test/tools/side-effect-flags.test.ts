import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { readFile } from 'node:fs/promises'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { parseConfigFile } from '../../src/config/tools-file.ts'
import { createHttpTool } from '../../src/tools/http/http-tool.ts'
import { ToolRegistry } from '../../src/tools/registry.ts'
import { fencedBlock } from '../examples/commands.ts'
import type { ToolListing } from '../../src/tools/registry.ts'
import { assistantMessage, buildTestApp } from '../helpers/app.ts'

const hintsFixture = new URL('../fixtures/mcp-hints-server.ts', import.meta.url).pathname
const mcpFixture = new URL('../fixtures/mcp-server.ts', import.meta.url).pathname

/** A real HTTP service on 127.0.0.1 that counts the requests it gets and never answers them. */
async function hangingService(t: TestContext) {
  const received = { count: 0 }
  const server = createServer((request) => {
    request.resume()
    received.count++
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/slow`, received }
}

/** A gateway on a configuration file of `yaml`. */
async function gatewayWith(t: TestContext, yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-flags-'))
  const file = join(dir, 'tools.yaml')
  await writeFile(file, yaml)
  const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file }, random: () => 0 })
  const listings = async () => {
    const listed = (await app.inject({ method: 'GET', url: '/tools?format=toolgate' })).json<ToolListing[]>()
    return Object.fromEntries(
      listed.map(({ name, readOnly, idempotent, destructive, lane }) => [name, { readOnly, idempotent, destructive, lane }]),
    )
  }
  return { app, listings }
}

function slowTool(url: string, flags: string): string {
  return `tools:
  - name: slow
    description: Never answers.
    parameters: { type: object }
    http: { url: ${url} }
    timeoutMs: 3000
    attemptTimeoutMs: 100
    retries: 2
${flags}`
}

describe('side-effect flags', () => {
  it('answers timeout after the first timed-out attempt of a tool not marked idempotent, sending one request', async (t) => {
    const service = await hangingService(t)
    const { app } = await gatewayWith(t, slowTool(service.url, ''))
    const reply = (
      await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['call_1', 'slow', {}]]) })
    ).json<ExecuteReply>()
    const [result] = reply.results
    assert.equal(result?.error?.code, 'timeout')
    assert.equal(result.attempts, 1)
    assert.match(
      result.error.message,
      /attempt 1 of slow did not finish within 100 ms; it was not retried, since slow is not marked idempotent/,
    )
    assert.equal(service.received.count, 1)
  })

  for (const flag of ['idempotent: true', 'readOnly: true']) {
    it(`retries the timed-out attempts of a tool marked ${flag}, sending a request for each`, async (t) => {
      const service = await hangingService(t)
      const { app } = await gatewayWith(t, slowTool(service.url, `    ${flag}\n`))
      const reply = (
        await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['call_1', 'slow', {}]]) })
      ).json<ExecuteReply>()
      const [result] = reply.results
      assert.equal(result?.error?.code, 'timeout')
      assert.equal(result.attempts, 3)
      assert.match(result.error.message, /attempt 3 of slow did not finish within 100 ms \(after 3 attempts\)$/)
      assert.equal(service.received.count, 3)
    })
  }

  it('declares the built-in tools read-only (lookups), and lets builtins.overrides change the flags and give a lane', async (t) => {
    const { listings } = await gatewayWith(
      t,
      'builtins:\n  overrides:\n    get_date: { readOnly: false, destructive: true, lane: "clock" }\n',
    )
    const listed = await listings()
    const lookup = { readOnly: true, idempotent: true, destructive: false, lane: null }
    assert.deepEqual(listed.get_time, lookup)
    assert.deepEqual(listed.get_weather, lookup)
    assert.deepEqual(listed.get_date, {
      readOnly: false,
      idempotent: false,
      destructive: true,
      lane: { key: 'clock', stopOnFailure: false },
    })
  })

  it("reads an MCP server's destructiveHint beside its other hints, an absent one as destructive unless read-only", async (t) => {
    const { listings } = await gatewayWith(t, `mcp:\n  - name: hints\n    command: ${process.execPath}\n    args: [${hintsFixture}]\n`)
    const listed = await listings()
    assert.deepEqual(listed.hints__plain, { readOnly: false, idempotent: false, destructive: true, lane: null })
    assert.deepEqual(listed.hints__reader, { readOnly: true, idempotent: true, destructive: false, lane: null })
    assert.deepEqual(listed.hints__eraser, { readOnly: false, idempotent: false, destructive: true, lane: null })
    assert.deepEqual(listed.hints__appender, { readOnly: false, idempotent: false, destructive: false, lane: null })
    assert.deepEqual(listed.hints__reader_destructive, { readOnly: true, idempotent: true, destructive: false, lane: null })
  })

  it("lets the server entry's flags and its per-tool overrides win over the annotations, and give a tool its lane", async (t) => {
    const { listings } = await gatewayWith(
      t,
      `mcp:
  - name: hints
    command: ${process.execPath}
    args: [${hintsFixture}]
    destructive: false
    tools:
      eraser: { destructive: true, lane: { key: "row:{id}", stopOnFailure: true } }
      reader: { readOnly: false }
      plain: { idempotent: true }
`,
    )
    const listed = await listings()
    assert.deepEqual(listed.hints__eraser, {
      readOnly: false,
      idempotent: false,
      destructive: true,
      lane: { key: 'row:{id}', stopOnFailure: true },
    })
    assert.deepEqual(listed.hints__reader, { readOnly: false, idempotent: false, destructive: false, lane: null })
    assert.deepEqual(listed.hints__plain, { readOnly: false, idempotent: true, destructive: false, lane: null })
    assert.deepEqual(listed.hints__appender, { readOnly: false, idempotent: false, destructive: false, lane: null })
  })

  it("lets a tool's own destructive: true win over the server-wide readOnly", async (t) => {
    const { listings } = await gatewayWith(
      t,
      `mcp:\n  - name: hints\n    command: ${process.execPath}\n    args: [${hintsFixture}]\n    readOnly: true\n    tools: { eraser: { destructive: true } }\n`,
    )
    const listed = await listings()
    assert.deepEqual(listed.hints__eraser, { readOnly: false, idempotent: false, destructive: true, lane: null })
    assert.deepEqual(listed.hints__plain, { readOnly: true, idempotent: true, destructive: false, lane: null })
  })

  for (const [flags, attempts] of [
    ['', 1],
    ['    tools: { crash: { idempotent: true } }\n', 3],
  ] as const) {
    it(`retries an MCP call that reached its server and failed only for an idempotent tool (${String(attempts)} attempts)`, async (t) => {
      // The fixture's crash tool makes its server exit mid-call; the server is started again (0.5 s later).
      const { app } = await gatewayWith(
        t,
        `mcp:\n  - name: fix\n    command: ${process.execPath}\n    args: [${mcpFixture}]\n    timeoutMs: 5000\n    retries: 2\n${flags}`,
      )
      const reply = (
        await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['call_1', 'fix__crash', {}]]) })
      ).json<ExecuteReply>()
      const [result] = reply.results
      assert.equal(result?.error?.code, 'tool_error')
      assert.equal(result.attempts, attempts)
    })
  }

  it("accepts the README's lane example as a configuration, its tools as a registry", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const { config } = parseConfigFile(fencedBlock(readme, '### Ordering lanes', 'yaml').join('\n'), 'README.md', {})
    const registry = new ToolRegistry(config.tools.map((tool) => createHttpTool(tool)))
    assert.deepEqual(
      registry.listings().map(({ name, lane }) => [name, lane]),
      [
        ['write_note', { key: 'note:{id}', stopOnFailure: true }],
        ['read_note', { key: 'note:{id}', stopOnFailure: false }],
      ],
    )
  })
})
