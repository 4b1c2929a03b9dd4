import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp } from '../../helpers/app.ts'

const fixture = new URL('../../fixtures/mcp-env-server.ts', import.meta.url).pathname

describe('the environment of a stdio MCP server', () => {
  it("is the SDK's minimal default environment and its own env:, never toolgate's", async (t) => {
    const planted = `planted-${String(process.pid)}-${String(Date.now())}`
    process.env.TOOLGATE_ADMIN_KEY = planted
    t.after(() => {
      delete process.env.TOOLGATE_ADMIN_KEY
    })
    // The command is the absolute path of Node 24: the default environment's PATH may find another node.
    const file = join(await mkdtemp(join(tmpdir(), 'toolgate-mcp-env-')), 'tools.yaml')
    await writeFile(
      file,
      `mcp:
  - name: given
    command: ${process.execPath}
    args: [${fixture}]
    env: { GREETING: hello }
  - name: bare
    command: ${process.execPath}
    args: [${fixture}]
`,
    )
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
    const reply = (
      await app.inject({
        method: 'POST',
        url: '/execute',
        payload: assistantMessage([
          ['c1', 'given__env', {}],
          ['c2', 'bare__env', {}],
        ]),
      })
    ).json<ExecuteReply>()
    const [given, bare] = reply.messages.map((message) => JSON.parse(message.content) as Record<string, string>)
    assert.ok(given && bare, JSON.stringify(reply.results))
    assert.ok(!JSON.stringify(reply).includes(planted), 'the planted secret reached a server')
    const defaults = getDefaultEnvironment()
    assert.ok(defaults.PATH !== undefined)
    assert.deepEqual(bare, defaults)
    assert.deepEqual(given, { ...defaults, GREETING: 'hello' })
  })
})
