import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { assistantMessage } from '../helpers/app.ts'
import { commandLines, fencedBlock, indentedCommands, leadingComment, onPath, parseCommand, start } from './commands.ts'

const toolsFile = new URL('../../examples/tool-servers/tools.yaml', import.meta.url)
const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
const walkThrough = '### Walk-through: tool servers in other languages, and an MCP server'

// The commands are read from tools.yaml's header and run as written there, from the repo's root.
// Only the ports are substituted, so that the test never depends on (or collides with) whatever
// listens on 9000, 9001 or 8080 on this machine: each tool server is given port 0 instead of its
// fixed one, and the port it picked replaces the fixed one in the gateway's environment
// (ORDERS_URL=http://127.0.0.1:9000 -> ...:<picked>); the gateway gets PORT=0 on top of the header's
// environment. Nothing else is changed: `node` is the terminal's (the machine's own, not npm's
// Node 24), and the gateway is started with the header's `npm start`.
const headerCommands = indentedCommands(leadingComment(await readFile(toolsFile, 'utf8'), '#'), '#')
const [ordersCommand, inventoryCommand, gatewayCommand] = headerCommands.map(parseCommand)

const missing = (await Promise.all(['curl', 'jq'].map(async (name) => ((await onPath(name)) ? [] : [name])))).flat()

/** Port of the header's tool servers -> the port each picked here. */
const picked = new Map<string, string>()

/** The gateway as the header starts it, ports substituted; its base URL. */
async function startGateway(t: TestContext): Promise<string> {
  assert.ok(gatewayCommand)
  const env = Object.fromEntries(
    Object.entries(gatewayCommand.env).map(([name, value]) => [
      name,
      value.replace(/(127\.0\.0\.1:)(\d+)/g, (whole, host: string, port: string) =>
        picked.has(port) ? `${host}${picked.get(port) ?? ''}` : whole,
      ),
    ]),
  )
  const gateway = start(t, { env, argv: gatewayCommand.argv }, { PORT: '0' })
  const [, base] = await gateway.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'the gateway to listen')
  t.after(async () => {
    // npm passes SIGTERM on to toolgate, which drains and exits 0.
    gateway.child.kill('SIGTERM')
    await gateway.exit
  })
  return base ?? ''
}

async function post(base: string, payload: unknown): Promise<ExecuteReply> {
  const response = await fetch(`${base}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  })
  assert.equal(response.status, 200)
  return (await response.json()) as ExecuteReply
}

describe("examples/tool-servers: the commands of tools.yaml's header, as written", () => {
  // The two tool servers live as long as the suite; each test starts its own gateway (a fresh MCP server).
  const stops: Array<() => void> = []
  after(() => {
    for (const stop of stops) stop()
  })
  before(async () => {
    for (const server of [ordersCommand, inventoryCommand]) {
      assert.ok(server, 'the header gives three commands: the two tool servers, then the gateway')
      const port = server.argv.at(-1) ?? ''
      assert.match(port, /^\d+$/, `${server.argv.join(' ')}: the header gives each tool server its port`)
      const running = start(
        { after: (stop) => void stops.push(stop) },
        { env: server.env, argv: [server.argv[0], ...server.argv.slice(1, -1), '0'] },
      )
      const [, url] = await running.waitFor(/ on http:\/\/127\.0\.0\.1:(\d+)/, `${server.argv.join(' ')} to listen`)
      picked.set(port, url ?? '')
    }
  })

  it("are the README walk-through's, and say there are three servers", async () => {
    assert.equal(headerCommands.length, 3)
    assert.deepEqual(commandLines(fencedBlock(readme, walkThrough, 'sh', 0)), headerCommands)
    assert.match((await readFile(toolsFile, 'utf8')).split('\n')[0] ?? '', /the three example tool servers/)
  })

  it('start a gateway with the tools and the MCP server the README lists', async (t) => {
    const base = await startGateway(t)
    const listed = /`GET \/tools` now lists `([^`]+)`/.exec(readme)?.[1]?.split(/,\s*/)
    const tools = (await (await fetch(`${base}/tools`)).json()) as Array<{ function: { name: string } }>
    assert.deepEqual(
      tools.map((tool) => tool.function.name),
      listed,
    )
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { mcp: unknown }
    assert.match(readme, /`GET \/readyz` says `"mcp": \[\{"name":"notes","connected":true\}\]`/)
    assert.deepEqual(ready.mcp, [{ name: 'notes', connected: true }])
  })

  it('answer a batch mixing built-in and configured tools, each failure with its own code', async (t) => {
    const base = await startGateway(t)
    const reply = await post(
      base,
      assistantMessage([
        ['c1', 'get_time', { timezone: 'Asia/Tokyo' }],
        ['c2', 'lookup_order', { order_id: 'ord_1001' }],
        ['c3', 'lookup_order', { order_id: 'ord_9999' }],
        ['c4', 'check_stock', { sku: 'sku-red-mug' }],
        ['c5', 'check_stock', { sku: 'sku-green-mug' }],
        ['c6', 'lookup_order', { order_id: 'order-1' }],
        ['c7', 'notes__list_notes', {}],
        ['c8', 'notes__add_note', { text: 'call the carrier' }],
      ]),
    )
    assert.equal(reply.status, 'partial')
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.error?.code ?? 'ok', result.attempts]),
      [
        ['c1', 'ok', 1],
        ['c2', 'ok', 1],
        ['c3', 'tool_error', 1],
        ['c4', 'ok', 1],
        ['c5', 'tool_error', 1],
        ['c6', 'invalid_arguments', 0],
        ['c7', 'tool_error', 1],
        ['c8', 'ok', 1],
      ],
    )
    // The bearer token of the header reached the orders server (a wrong one is a 401).
    assert.deepEqual(reply.results[1]?.output, { order_id: 'ord_1001', status: 'shipped', carrier: 'DHL', eta: '2026-11-27' })
    assert.equal(reply.results[3]?.output, 'sku-red-mug: 12 in stock')
    assert.match(reply.results[2]?.error?.message ?? '', /HTTP 404.*no order 'ord_9999'/)
    assert.equal(reply.results[6]?.error?.message, 'no notes yet')
    // An MCP tool's output is its whole result; the model reads its text.
    assert.deepEqual(reply.results[7]?.output, { content: [{ type: 'text', text: 'note 1 kept' }] })
    assert.equal(reply.messages[7]?.content, 'note 1 kept')
  })

  it(
    "answer the walk-through's curl batch as the README shows",
    { skip: missing.length > 0 ? `${missing.join(' and ')} not installed (the README's examples use curl and jq)` : false },
    async (t) => {
      const base = await startGateway(t)
      // The README's command as written, sent to this gateway's port instead of 8080.
      const curl = fencedBlock(readme, walkThrough, 'sh', 1).join('\n').replaceAll('http://127.0.0.1:8080', base)
      const shell = start(t, { env: {}, argv: ['sh', '-c', curl] })
      const [code] = await shell.exit
      assert.equal(code, 0, shell.output())
      assert.deepEqual(JSON.parse(shell.output()), JSON.parse(fencedBlock(readme, walkThrough, 'json', 0).join('\n')))
    },
  )
})
