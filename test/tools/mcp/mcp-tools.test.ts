import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it, type TestContext } from 'node:test'
import type { App } from '../../../src/app.ts'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, waitFor, type CallSpec } from '../../helpers/app.ts'

const fixture = new URL('../../fixtures/mcp-server.ts', import.meta.url).pathname
const stdioServer = `  - name: fix\n    command: ${process.execPath}\n    args: [${fixture}]\n    timeoutMs: 3000\n`

async function gatewayWith(t: TestContext, yaml: string): Promise<App> {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-')), 'tools.yaml')
  await writeFile(file, yaml)
  return buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
}

/** results[].output of an MCP tool that answered `text`: the whole MCP result. */
function mcpText(text: string) {
  return { content: [{ type: 'text', text }] }
}

async function run(app: App, calls: CallSpec[]): Promise<ExecuteReply> {
  return (await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage(calls) })).json<ExecuteReply>()
}

describe('MCP servers from the configuration file', () => {
  it("lists a stdio server's tools as <server>__<tool> and calls them, isError being the call's error", async (t) => {
    const app = await gatewayWith(t, `mcp:\n${stdioServer}`)
    assert.deepEqual(
      app.registry.names.filter((name) => name.startsWith('fix__')),
      ['fix__add', 'fix__fail', 'fix__crash', 'fix__slow', 'fix__grow'],
    )
    const reply = await run(app, [
      ['c1', 'fix__add', { a: 1, b: 2 }],
      ['c2', 'fix__fail', {}],
      ['c3', 'fix__add', { a: 'one' }],
    ])
    assert.deepEqual(
      reply.results.map((result) => [result.error?.code ?? 'ok', result.output ?? result.error?.message]),
      [
        ['ok', mcpText('3')],
        ['tool_error', 'the fixture failed on purpose'],
        ['invalid_arguments', reply.results[2]?.error?.message],
      ],
    )
    assert.deepEqual((await app.inject({ method: 'GET', url: '/readyz' })).json<{ mcp: unknown }>().mcp, [{ name: 'fix', connected: true }])
  })

  it('calls a server over Streamable HTTP', async (t) => {
    const child = spawn(process.execPath, [fixture, '--http'], { stdio: ['ignore', 'pipe', 'inherit'] })
    t.after(() => child.kill())
    let url = ''
    for await (const line of createInterface({ input: child.stdout })) {
      url = /listening on (\S+)/.exec(line)?.[1] ?? ''
      if (url) break
    }
    const app = await gatewayWith(t, `mcp:\n  - name: web\n    url: ${url}\n`)
    const reply = await run(app, [['c1', 'web__add', { a: 20, b: 22 }]])
    assert.deepEqual(reply.results[0]?.output, mcpText('42'))
  })

  it('answers a call in flight when its server crashes, reconnects, and serves again', async (t) => {
    const app = await gatewayWith(t, `mcp:\n${stdioServer}`)
    const crashed = await run(app, [['c1', 'fix__crash', {}]])
    assert.equal(crashed.results[0]?.error?.code, 'tool_error')
    await waitFor(
      () => app.toolSources.mcpServers[0]?.connected === true && app.registry.get('fix__add') !== undefined,
      'the server to come back',
      10_000,
    )
    assert.deepEqual((await run(app, [['c2', 'fix__add', { a: 2, b: 2 }]])).results[0]?.output, mcpText('4'))
  })

  it('lets an MCP call in flight finish on its old connection when the tools are reloaded', async (t) => {
    const app = await gatewayWith(t, `mcp:\n${stdioServer}`)
    const inFlight = run(app, [['c1', 'fix__slow', {}]])
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(await app.reloadTools(), [...app.registry.names])
    assert.deepEqual((await inFlight).results[0]?.output, mcpText('slow done'))
  })

  it('picks up a changed tool list', async (t) => {
    const app = await gatewayWith(t, `mcp:\n${stdioServer}`)
    assert.equal(app.registry.get('fix__more'), undefined)
    await run(app, [['c1', 'fix__grow', {}]])
    await waitFor(() => app.registry.get('fix__more') !== undefined, 'the new tool')
    assert.deepEqual((await run(app, [['c2', 'fix__more', {}]])).results[0]?.output, mcpText('more'))
  })

  it('answers a batch mixing built-in, HTTP and MCP tools, one of each failing, each with its code', async (t) => {
    const endpoint = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        const ok = (JSON.parse(body) as { ok: boolean }).ok
        response.writeHead(ok ? 200 : 404, { 'content-type': 'text/plain' }).end(ok ? 'fine' : 'not found')
      })
    })
    endpoint.listen(0, '127.0.0.1')
    await once(endpoint, 'listening')
    t.after(() => endpoint.close())
    const url = `http://127.0.0.1:${String((endpoint.address() as AddressInfo).port)}/check`
    const app = await gatewayWith(
      t,
      `tools:\n  - name: check\n    description: Checks.\n    parameters: { type: object, properties: { ok: { type: boolean } }, required: [ok] }\n    http: { url: "${url}" }\nmcp:\n${stdioServer}`,
    )
    const reply = await run(app, [
      ['b1', 'get_time', { timezone: 'UTC' }],
      ['b2', 'get_date', { timezone: 'Nowhere/Land' }],
      ['h1', 'check', { ok: true }],
      ['h2', 'check', { ok: false }],
      ['m1', 'fix__add', { a: 1, b: 1 }],
      ['m2', 'fix__fail', {}],
    ])
    assert.equal(reply.status, 'partial')
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.error?.code ?? 'ok']),
      [
        ['b1', 'ok'],
        ['b2', 'invalid_arguments'],
        ['h1', 'ok'],
        ['h2', 'tool_error'],
        ['m1', 'ok'],
        ['m2', 'tool_error'],
      ],
    )
  })
})
