import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { buildTestApp, listen } from '../helpers/app.ts'
import { connectHttp, connectStdio, eras, errorOf } from '../helpers/mcp-clients.ts'

const toolgate = new URL('../../src/cli/toolgate.js', import.meta.url).pathname
const fixtures = new URL('../fixtures/', import.meta.url).pathname

/** `toolgate mcp-stdio` as a client starts it: the command and its environment. */
function server(env: Record<string, string>) {
  return { command: process.execPath, args: [toolgate, 'mcp-stdio'], env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env } }
}

for (const era of eras) {
  describe(`toolgate mcp-stdio, protocol revision ${era}`, () => {
    it("serves the configuration's tools (built-in and an upstream MCP server's) over stdin and stdout", async (t) => {
      const file = join(await mkdtemp(join(tmpdir(), 'toolgate-stdio-')), 'tools.yaml')
      await writeFile(file, `mcp:\n  - name: fix\n    command: ${process.execPath}\n    args: [${fixtures}mcp-server.ts]\n`)
      const client = await connectStdio(t, era, server({ TOOLGATE_CONFIG: file }))
      const names = (await client.listTools()).map((tool) => tool.name)
      assert.ok(names.includes('get_time') && names.includes('fix__add'), names.join(', '))
      const time = await client.callTool('get_time', { timezone: 'UTC' })
      assert.equal(time.structuredContent?.timezone, 'UTC')
      assert.deepEqual((await client.callTool('fix__add', { a: 1, b: 41 })).content, [{ type: 'text', text: '42' }])
      assert.equal(errorOf(await client.callTool('get_time', { timezone: 'Mars/Olympus' }))?.code, 'invalid_arguments')
    })

    it('with API keys configured, serves the tools of the key in TOOLGATE_MCP_STDIO_KEY', async (t) => {
      const file = join(await mkdtemp(join(tmpdir(), 'toolgate-stdio-keys-')), 'keys.yaml')
      await writeFile(file, 'keys:\n  - name: clock\n    key: clock-key-0123456789abcdef\n    tools: [get_time]\n')
      const client = await connectStdio(
        t,
        era,
        server({ TOOLGATE_API_KEYS_FILE: file, TOOLGATE_MCP_STDIO_KEY: 'clock-key-0123456789abcdef' }),
      )
      assert.deepEqual(
        (await client.listTools()).map((tool) => tool.name),
        ['get_time'],
      )
      assert.equal(errorOf(await client.callTool('get_date', {}))?.code, 'forbidden_tool')
    })
  })
}

describe('toolgate mcp-stdio, refusals', () => {
  it('exits with one line when API keys are configured and TOOLGATE_MCP_STDIO_KEY names none of them', () => {
    const run = spawnSync(process.execPath, [toolgate, 'mcp-stdio'], {
      env: {
        PATH: process.env.PATH ?? '',
        TOOLGATE_API_KEYS: 'a-key-of-at-least-16-chars',
        TOOLGATE_MCP_STDIO_KEY: 'not-one-of-them-0000',
      },
      input: '',
      encoding: 'utf8',
      timeout: 20_000,
    })
    assert.equal(run.status, 1)
    assert.equal(run.stdout, '', 'nothing but the protocol may reach stdout')
    assert.match(run.stderr, /^toolgate: API keys are configured: set TOOLGATE_MCP_STDIO_KEY/m)
    assert.doesNotMatch(run.stderr, /not-one-of-them/)
  })
})

describe("the README's MCP client configuration", () => {
  const root = new URL('../../', import.meta.url).pathname.replace(/\/$/, '')

  /** The JSON block of the section "Using toolgate from an MCP client", with the clone's path put in. */
  async function readmeConfig() {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Using toolgate from an MCP client'))
    const block = /```json\n([\s\S]*?)```/.exec(section)?.[1]
    assert.ok(block, 'the section has a JSON block')
    return JSON.parse(block.replaceAll('/path/to/toolgate', root)) as {
      mcpServers: {
        toolgate: { url: string; headers: Record<string, string> }
        'toolgate-local': { command: string; args: string[]; env: Record<string, string> }
      }
    }
  }

  for (const era of eras) {
    it(`starts toolgate mcp-stdio as its stdio entry says, and reaches /mcp as its HTTP entry says (${era})`, async (t) => {
      const { mcpServers } = await readmeConfig()
      const local = mcpServers['toolgate-local']
      const stdio = await connectStdio(t, era, {
        command: local.command,
        args: local.args,
        env: { PATH: process.env.PATH ?? '', ...local.env },
      })
      assert.ok((await stdio.listTools()).some((tool) => tool.name === 'get_time'))

      const key = 'readme-key-0123456789abcdef'
      const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS: key } })
      const url = new URL(mcpServers.toolgate.url)
      assert.equal(url.pathname, '/mcp')
      const base = await listen(app)
      const headers = { Authorization: mcpServers.toolgate.headers.Authorization?.replace('<one of TOOLGATE_API_KEYS>', key) ?? '' }
      const http = await connectHttp(t, base, era, headers)
      assert.equal((await http.callTool('get_time', { timezone: 'UTC' })).structuredContent?.timezone, 'UTC')
    })
  }
})
