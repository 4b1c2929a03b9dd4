import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, waitFor } from '../helpers/app.ts'

const adminKey = 'admin-key-0123456789abcdef'
const auth = { authorization: `Bearer ${adminKey}` }

/** An endpoint that answers after `delayMs`, counting the requests it is still holding. */
async function slowEndpoint(t: TestContext, delayMs: number) {
  const state = { holding: 0 }
  const server = createServer((_request, response) => {
    state.holding++
    setTimeout(() => {
      state.holding--
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}')
    }, delayMs)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/work`, state }
}

const toolYaml = (name: string, url: string) => `  - name: ${name}
    description: Does some work.
    parameters: { type: object, properties: {} }
    http: { url: "${url}" }
`

async function setUp(t: TestContext, yaml: string) {
  const file = join(await mkdtemp(join(tmpdir(), 'toolgate-reload-')), 'tools.yaml')
  await writeFile(file, yaml)
  const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file, TOOLGATE_ADMIN_KEY: adminKey } })
  const reload = () => app.inject({ method: 'POST', url: '/admin/reload', headers: auth })
  const toolNames = async () =>
    (await app.inject({ method: 'GET', url: '/tools' })).json<Array<{ function: { name: string } }>>().map((tool) => tool.function.name)
  return { app, file, reload, toolNames }
}

describe('POST /admin/reload', () => {
  it('puts the tools of the changed file in service', async (t) => {
    const endpoint = await slowEndpoint(t, 1)
    const { file, reload, toolNames } = await setUp(t, `tools:\n${toolYaml('first', endpoint.url)}`)
    assert.deepEqual(await toolNames(), ['get_time', 'get_date', 'get_weather', 'first'])
    await writeFile(
      file,
      `tools:\n${toolYaml('first', endpoint.url)}${toolYaml('second', endpoint.url)}builtins: { disabled: [get_weather] }\n`,
    )
    const response = await reload()
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { status: 'reloaded', tools: ['get_time', 'get_date', 'first', 'second'] })
    assert.deepEqual(await toolNames(), ['get_time', 'get_date', 'first', 'second'])
  })

  it('refuses a bad file with 422 and keeps the tools in service', async (t) => {
    const endpoint = await slowEndpoint(t, 1)
    const { file, reload, toolNames } = await setUp(t, `tools:\n${toolYaml('first', endpoint.url)}`)
    await writeFile(file, 'tools: [{ name: broken }]\n')
    const response = await reload()
    assert.equal(response.statusCode, 422)
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'invalid_config')
    assert.deepEqual(await toolNames(), ['get_time', 'get_date', 'get_weather', 'first'])
  })

  it('answers an identical 401 to a missing or wrong key, before doing anything', async (t) => {
    const { app } = await setUp(t, 'tools: []\n')
    const missing = await app.inject({ method: 'POST', url: '/admin/reload' })
    const wrong = await app.inject({ method: 'POST', url: '/admin/reload', headers: { authorization: 'Bearer nope' } })
    assert.deepEqual([missing.statusCode, wrong.statusCode], [401, 401])
    assert.deepEqual(missing.json(), wrong.json())
  })

  it('lets calls in flight finish on the old definitions', async (t) => {
    const endpoint = await slowEndpoint(t, 300)
    const { app, file, reload } = await setUp(t, `tools:\n${toolYaml('slow', endpoint.url)}`)
    const inFlight = app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['c1', 'slow', {}]]) })
    await waitFor(() => endpoint.state.holding === 1, 'the call to reach its endpoint')
    await writeFile(file, 'tools: []\n')
    assert.equal((await reload()).statusCode, 200)
    const before = (await inFlight).json<ExecuteReply>()
    assert.deepEqual(
      before.results.map((result) => result.error?.code ?? 'ok'),
      ['ok'],
    )
    const after = (
      await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['c2', 'slow', {}]]) })
    ).json<ExecuteReply>()
    assert.equal(after.results[0]?.error?.code, 'unknown_tool')
  })

  it('does not exist without TOOLGATE_ADMIN_KEY', async (t) => {
    const app = await buildTestApp(t)
    assert.equal((await app.inject({ method: 'POST', url: '/admin/reload', headers: auth })).statusCode, 404)
  })
})
