import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { pino } from 'pino'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { parseConfigFile } from '../../../src/config/tools-file.ts'
import { ToolError } from '../../../src/errors.ts'
import { HandedOver } from '../../../src/tools/content.ts'
import { createHttpTool } from '../../../src/tools/http/http-tool.ts'
import type { Tool, ToolContext } from '../../../src/tools/tool.ts'
import { assistantMessage, buildTestApp } from '../../helpers/app.ts'

/** A real local HTTP server standing for a team's tool: it records the headers of every request and answers `statuses` in turn (then 200). */
async function upstream(t: TestContext, statuses: number[] = []) {
  const received: IncomingHttpHeaders[] = []
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      received.push(request.headers)
      const status = statuses.shift() ?? 200
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status }))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/orders`, received }
}

const toolYaml = (url: string, extra = '') => `tools:
  - name: place_order
    description: Places an order.
    parameters: { type: object, properties: { item: { type: string } } }
    http: { url: "${url}" }
    retries: 2
${extra}`

/** The tool the configuration file declares, made as toolgate makes it. */
function toolFrom(yaml: string): Tool {
  const [config] = parseConfigFile(yaml, 'tools.yaml', {}).config.tools
  assert.ok(config)
  return createHttpTool(config)
}

function context(attempt: number, idempotencyKey?: string): ToolContext {
  const log = pino({ level: 'silent' })
  return {
    signal: new AbortController().signal,
    log,
    callId: 'call_1',
    attempt,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  }
}

/** What the tool sends without a key of the call's own: derived from its name and the call id. */
const derivedKey = (name: string, callId: string) => createHash('sha256').update(`${name}\n${callId}`).digest('base64url').slice(0, 32)

describe('idempotency keys and flags of HTTP tools', () => {
  it("sends the call's key as Idempotency-Key, the same on the retry of a failed attempt", async (t) => {
    const server = await upstream(t, [503])
    const tool = toolFrom(toolYaml(server.url, '    idempotent: true\n'))
    await assert.rejects(
      Promise.resolve(tool.execute({ item: 'tea' }, context(1, 'key-7f3a'))),
      (error) => error instanceof ToolError && error.retryable,
    )
    const output = await tool.execute({ item: 'tea' }, context(2, 'key-7f3a'))
    assert.ok(output instanceof HandedOver)
    assert.deepEqual(output.value, { status: 200 })
    assert.deepEqual(
      server.received.map((headers) => [headers['idempotency-key'], headers['x-toolgate-call-id']]),
      [
        ['key-7f3a', 'call_1'],
        ['key-7f3a', 'call_1'],
      ],
    )
  })

  it('sends the key derived from the tool and the call id, as before, when the call has no key', async (t) => {
    const server = await upstream(t)
    const tool = toolFrom(toolYaml(server.url))
    await tool.execute({ item: 'tea' }, context(1))
    await tool.execute({ item: 'tea' }, context(2))
    assert.deepEqual(
      server.received.map((headers) => headers['idempotency-key']),
      [derivedKey('place_order', 'call_1'), derivedKey('place_order', 'call_1')],
    )
  })

  it("puts the file's idempotent and readOnly on the tool (readOnly implying idempotent), and retries only such a tool's 5xx", async (t) => {
    const server = await upstream(t, [503, 503, 503])
    const made = {
      none: toolFrom(toolYaml(server.url)),
      idempotent: toolFrom(toolYaml(server.url, '    idempotent: true\n')),
      readOnly: toolFrom(toolYaml(server.url, '    readOnly: true\n')),
      both: toolFrom(toolYaml(server.url, '    idempotent: true\n    readOnly: true\n')),
    }
    assert.deepEqual(Object.fromEntries(Object.entries(made).map(([name, tool]) => [name, [tool.idempotent, tool.readOnly]])), {
      none: [false, false],
      idempotent: [true, false],
      readOnly: [true, true],
      both: [true, true],
    })
    const retryable = async (tool: Tool) => {
      try {
        await tool.execute({ item: 'tea' }, context(1))
      } catch (error) {
        assert.ok(error instanceof ToolError)
        return error.retryable
      }
      assert.fail('expected the 503 to fail the attempt')
    }
    assert.deepEqual([await retryable(made.none), await retryable(made.readOnly), await retryable(made.idempotent)], [false, true, true])
  })

  it('sends the key a keyed POST /execute gives the call on each of its attempts', async (t) => {
    const server = await upstream(t, [503])
    const file = join(await mkdtemp(join(tmpdir(), 'toolgate-http-key-')), 'tools.yaml')
    await writeFile(file, toolYaml(server.url, '    readOnly: true\n'))
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file }, random: () => 0 })
    assert.deepEqual([app.registry.get('place_order')?.idempotent, app.registry.get('place_order')?.readOnly], [true, true])
    const response = await app.inject({
      method: 'POST',
      url: '/execute',
      headers: { 'idempotency-key': 'batch-42' },
      payload: assistantMessage([['call_1', 'place_order', { item: 'tea' }]]),
    })
    const [result] = response.json<ExecuteReply>().results
    assert.deepEqual([result?.ok, result?.attempts], [true, 2])
    const [first, second] = server.received.map((headers) => String(headers['idempotency-key']))
    assert.match(first ?? '', /^[\w-]{8,}$/)
    assert.equal(second, first, 'the retry carries the same key')
    assert.notEqual(first, derivedKey('place_order', 'call_1'), "the call's own key, not the one derived without a key")
  })
})
