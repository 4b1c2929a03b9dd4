import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp } from '../helpers/app.ts'

const examples = new URL('../../examples/tool-servers/', import.meta.url)

/** Starts an example tool server on a free port; its base URL, from the line it prints. */
async function startExample(t: TestContext, command: string, file: string, env: Record<string, string> = {}): Promise<string> {
  const child = spawn(command, [new URL(file, examples).pathname, '0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.after(() => child.kill())
  for await (const line of createInterface({ input: child.stdout })) {
    const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
    if (url !== undefined) return url
  }
  throw new Error(`${file} exited before it listened`)
}

describe('the example tool servers behind the example configuration', () => {
  it('answer a batch mixing built-in and configured tools, each failure with its own code', async (t) => {
    const token = 'example-token'
    const ordersUrl = await startExample(t, 'python3', 'orders.py', { ORDERS_TOKEN: token })
    const inventoryUrl = await startExample(t, process.execPath, 'inventory.mjs')
    Object.assign(process.env, { ORDERS_URL: ordersUrl, INVENTORY_URL: inventoryUrl, ORDERS_TOKEN: token })
    t.after(() => {
      for (const name of ['ORDERS_URL', 'INVENTORY_URL', 'ORDERS_TOKEN']) Reflect.deleteProperty(process.env, name)
    })
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: new URL('tools.yaml', examples).pathname } })
    const payload = assistantMessage([
      ['c1', 'get_time', { timezone: 'Asia/Tokyo' }],
      ['c2', 'lookup_order', { order_id: 'ord_1001' }],
      ['c3', 'lookup_order', { order_id: 'ord_9999' }],
      ['c4', 'check_stock', { sku: 'sku-red-mug' }],
      ['c5', 'check_stock', { sku: 'sku-green-mug' }],
      ['c6', 'lookup_order', { order_id: 'order-1' }],
      ['c7', 'notes__list_notes', {}],
      ['c8', 'notes__add_note', { text: 'call the carrier' }],
    ])
    const reply = (await app.inject({ method: 'POST', url: '/execute', payload })).json<ExecuteReply>()
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
    assert.deepEqual(reply.results[1]?.output, { order_id: 'ord_1001', status: 'shipped', carrier: 'DHL', eta: '2026-11-27' })
    assert.equal(reply.results[3]?.output, 'sku-red-mug: 12 in stock')
    assert.match(reply.results[2]?.error?.message ?? '', /HTTP 404.*no order 'ord_9999'/)
    assert.equal(reply.results[6]?.error?.message, 'no notes yet')
    // An MCP tool's output is its whole result; the model reads its text.
    assert.deepEqual(reply.results[7]?.output, { content: [{ type: 'text', text: 'note 1 kept' }] })
    assert.equal(reply.messages[7]?.content, 'note 1 kept')
  })
})
