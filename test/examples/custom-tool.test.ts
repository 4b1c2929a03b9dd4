import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { describe, it } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { assistantMessage } from '../helpers/app.ts'
import { serveOnLoopback } from '../helpers/server-process.ts'
import { fencedBlock, parseCommand, start } from './commands.ts'

const example = await readFile(new URL('../../examples/custom-tool.ts', import.meta.url), 'utf8')
const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
// The command the example's first line gives (`Run: ...`), run as written from the repo's root.
const command = /Run: (.+)$/m.exec(example.split('\n')[0] ?? '')?.[1] ?? ''

describe('examples/custom-tool.ts', () => {
  it('is shown whole in the README, which runs it with the command of its header', () => {
    assert.equal(command, 'npm run custom-tool')
    assert.equal(`${fencedBlock(readme, '## Writing a tool', 'ts').join('\n')}\n`, example)
  })

  it('runs as its header says, serves its own tool, and exits on SIGTERM', async (t) => {
    // The order service the example's tool asks (GET /orders/<id>), on a free port given as ORDERS_URL.
    const orders = await serveOnLoopback(
      t,
      createServer((request, response) => {
        const found = request.method === 'GET' && request.url === '/orders/ord_1001'
        response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' })
        response.end(JSON.stringify(found ? { orderId: 'ord_1001', status: 'shipped' } : { error: 'not found' }))
      }),
    )
    // The header's command as written; only the port (PORT=0, not 8080) and the order service are given.
    const gateway = start(t, parseCommand(command), { PORT: '0', ORDERS_URL: orders })
    const [, pid = '', base = ''] = await gateway.waitFor(
      /"pid":(\d+).*Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
      'the example to listen',
    )
    t.after(() => {
      // The example's own process (npm's grandchild), should it outlive npm.
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // gone already
      }
    })

    const tools = (await (await fetch(`${base}/tools`)).json()) as Array<{ function: { name: string } }>
    assert.deepEqual(
      tools.map((tool) => tool.function.name),
      ['get_time', 'get_date', 'get_weather', 'lookup_order'],
    )
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        assistantMessage([
          ['c1', 'lookup_order', { orderId: 'ord_1001' }],
          ['c2', 'lookup_order', { orderId: 'ord_2002' }],
          ['c3', 'lookup_order', { orderId: '1001' }],
          ['c4', 'get_time', { timezone: 'UTC' }],
        ]),
      ),
    })
    assert.equal(response.status, 200)
    const reply = (await response.json()) as ExecuteReply
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.error?.code ?? 'ok']),
      [
        ['c1', 'ok'],
        ['c2', 'tool_error'],
        ['c3', 'invalid_arguments'],
        ['c4', 'ok'],
      ],
    )
    assert.deepEqual(reply.results[0]?.output, { orderId: 'ord_1001', status: 'shipped' })
    assert.equal(reply.results[1]?.error?.message, 'no order ord_2002; check the id')

    // SIGTERM to npm, as a supervisor sends it: npm passes it on, the example closes and exits,
    // and npm with it. The gateway itself must be gone, not left running without its npm.
    gateway.child.kill('SIGTERM')
    const [code, signal] = await gateway.exit
    assert.deepEqual([code, signal], [0, null], gateway.output())
    const after = await fetch(`${base}/healthz`).then(
      (answer) => `still answering: HTTP ${String(answer.status)}`,
      () => 'gone',
    )
    assert.equal(after, 'gone', 'the example exits with npm')
  })
})
