import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import type { ToolListing } from '../../src/tools/registry.ts'
import { assistantMessage, buildTestApp, type CallSpec } from '../helpers/app.ts'

/**
 * A real notes service on 127.0.0.1 that records the order in which it saw the requests begin and
 * end. It holds its answer to the write of note 1 until it has seen the read of note 2 (or `holdMs`
 * passed), so that a test sees whether the two lanes overlapped; a note whose text is "fail" is
 * refused with a 500.
 */
async function notesService(t: TestContext, holdMs = 2_000) {
  const seen: string[] = []
  const notes = new Map<string, string>()
  let readOfTwo: () => void = () => undefined
  const sawReadOfTwo = new Promise<void>((resolve) => {
    readOfTwo = resolve
    setTimeout(resolve, holdMs).unref()
  })
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const { id, text } = JSON.parse(body) as { id: string; text?: string }
      const action = request.url === '/write' ? 'write' : 'read'
      seen.push(`start ${action} ${id}`)
      if (action === 'read' && id === '2') readOfTwo()
      const answer = async () => {
        if (action === 'write' && id === '1') await sawReadOfTwo
        seen.push(`end ${action} ${id}`)
        if (text === 'fail') {
          response.writeHead(500).end()
          return
        }
        if (action === 'write') notes.set(id, text ?? '')
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, text: notes.get(id) ?? null }))
      }
      void answer()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, seen }
}

async function gateway(t: TestContext, url: string, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-lanes-'))
  const file = join(dir, 'tools.yaml')
  const parameters = `    parameters:
      type: object
      properties: { id: { type: string }, text: { type: string } }
      required: [id]`
  await writeFile(
    file,
    `tools:
  - name: write_note
    description: Write a note.
${parameters}
    http: { url: ${url}/write }
    lane: { key: "note:{id}", stopOnFailure: true }
    destructive: true
  - name: read_note
    description: Read a note.
${parameters}
    http: { url: ${url}/read }
    readOnly: true
    lane: "note:{id}"
`,
  )
  const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file, ...env } })
  const execute = async (calls: CallSpec[]) =>
    (await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage(calls) })).json<ExecuteReply>()
  return { app, execute }
}

function before(seen: readonly string[], first: string, second: string): void {
  const [a, b] = [seen.indexOf(first), seen.indexOf(second)]
  assert.ok(a !== -1 && b !== -1 && a < b, `"${first}" before "${second}" in ${JSON.stringify(seen)}`)
}

describe('ordering lanes through the gateway, against a real HTTP service', () => {
  for (const concurrency of ['1', '2', '64']) {
    it(`runs a note's write then its read in the model's order while another note's run beside them (TOOLGATE_CONCURRENCY=${concurrency})`, async (t) => {
      // With one slot the read of note 2 cannot come while the write of note 1 holds it.
      const service = await notesService(t, concurrency === '1' ? 50 : 2_000)
      const { execute } = await gateway(t, service.url, { TOOLGATE_CONCURRENCY: concurrency })
      const reply = await execute([
        ['w1', 'write_note', { id: '1', text: 'first' }],
        ['r1', 'read_note', { id: '1' }],
        ['w2', 'write_note', { id: '2', text: 'second' }],
        ['r2', 'read_note', { id: '2' }],
      ])
      assert.equal(reply.status, 'complete')
      assert.deepEqual(
        reply.results.map((result) => result.output),
        [
          { id: '1', text: 'first' },
          { id: '1', text: 'first' },
          { id: '2', text: 'second' },
          { id: '2', text: 'second' },
        ],
      )
      const { seen } = service
      before(seen, 'end write 1', 'start read 1')
      before(seen, 'end write 2', 'start read 2')
      if (concurrency !== '1') {
        // Note 2's lane ran while the write of note 1 was held: the lanes overlapped.
        before(seen, 'start read 2', 'end write 1')
      }
    })
  }

  it("answers a failed write's later calls in its lane skipped, which the service never sees", async (t) => {
    const service = await notesService(t)
    const { execute } = await gateway(t, service.url)
    const reply = await execute([
      ['w1', 'write_note', { id: '3', text: 'fail' }],
      ['r1', 'read_note', { id: '3' }],
      ['r2', 'read_note', { id: '4' }],
    ])
    assert.deepEqual(
      reply.results.map((result) => result.error?.code ?? 'ok'),
      ['tool_error', 'skipped', 'ok'],
    )
    assert.match(reply.results[1]?.error?.message ?? '', /"w1" of write_note .*"note:3" failed \(tool_error\)/)
    assert.match(reply.messages[1]?.content ?? '', /^\{"error":\{"code":"skipped"/)
    assert.ok(!service.seen.includes('start read 3'))
  })

  it('lists the lanes and flags in GET /tools?format=toolgate, and keeps the provider formats as they were', async (t) => {
    const service = await notesService(t)
    const { app } = await gateway(t, service.url)
    const listed = (await app.inject({ method: 'GET', url: '/tools?format=toolgate' })).json<ToolListing[]>()
    const byName = Object.fromEntries(
      listed.map(({ name, readOnly, idempotent, destructive, lane }) => [name, { readOnly, idempotent, destructive, lane }]),
    )
    assert.deepEqual(byName.write_note, {
      readOnly: false,
      idempotent: false,
      destructive: true,
      lane: { key: 'note:{id}', stopOnFailure: true },
    })
    assert.deepEqual(byName.read_note, {
      readOnly: true,
      idempotent: true,
      destructive: false,
      lane: { key: 'note:{id}', stopOnFailure: false },
    })
    assert.deepEqual(byName.get_time, { readOnly: true, idempotent: true, destructive: false, lane: null })
    const openai = (await app.inject({ method: 'GET', url: '/tools' })).json<Array<{ function: Record<string, unknown> }>>()
    assert.deepEqual(Object.keys(openai[0]?.function ?? {}), ['name', 'description', 'parameters'])
  })
})
