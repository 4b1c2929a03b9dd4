import assert from 'node:assert/strict'
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { describe, it, type TestContext } from 'node:test'
import { envSchema } from '../../src/config/env.ts'
import { waitFor } from '../helpers/app.ts'

const repo = new URL('../..', import.meta.url).pathname
const launcher = join(repo, 'src/cli/toolgate.js')

interface Started {
  shell: ChildProcessByStdio<null, Readable, Readable>
  /** The PID the command gave, as `$!` gives it to a shell. */
  pid: number
  /** The gateway's own PID, from its log lines. */
  gatewayPid: number
  port: number
  output: () => string
  exit: Promise<unknown>
}

/**
 * Runs `command` in the background of a shell as the README does (`command & echo $!`), on a free
 * port, and waits until the gateway listens.
 */
async function startInShell(t: TestContext, command: string, env: Record<string, string> = {}): Promise<Started> {
  const shell = spawn('sh', ['-c', `${command} & echo "pid=$!"; wait`], {
    cwd: repo,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let text = ''
  shell.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
  shell.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const exit = once(shell, 'exit')
  let gatewayPid = 0
  t.after(() => {
    if (gatewayPid > 0 && alive(gatewayPid)) process.kill(gatewayPid, 'SIGKILL')
    if (shell.exitCode === null) shell.kill('SIGKILL')
  })
  await waitFor(() => /Server listening at/.test(text) || shell.exitCode !== null, 'the gateway to listen', 30_000)
  const listening = /\{[^\n]*"msg":"Server listening at http:\/\/127\.0\.0\.1:(\d+)"[^\n]*\}/.exec(text)
  assert.ok(listening, text)
  gatewayPid = (JSON.parse(listening[0]) as { pid: number }).pid
  return {
    shell,
    pid: Number(/pid=(\d+)/.exec(text)?.[1]),
    gatewayPid,
    port: Number(listening[1]),
    output: () => text,
    exit,
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => {
      resolve(false)
    })
  })
}

/** After a signal: the gateway process is gone and nothing listens on its port any more. */
async function assertGone(started: Started): Promise<void> {
  await waitFor(() => !alive(started.gatewayPid), `gateway ${String(started.gatewayPid)} to exit`, 15_000)
  assert.equal(await listening(started.port), false, `something still listens on ${String(started.port)}`)
}

describe('the toolgate command', () => {
  it('npm start: SIGTERM to the PID `npm start &` gives drains the gateway, which exits; nothing is left listening', async (t) => {
    const started = await startInShell(t, 'npm start')
    assert.notEqual(started.pid, started.gatewayPid)
    assert.equal(await listening(started.port), true)
    process.kill(started.pid, 'SIGTERM')
    await assertGone(started)
    await started.exit
    assert.match(started.output(), /"reason":"SIGTERM"[^\n]*shutting down/)
    assert.match(started.output(), /"msg":"closed"/)
  })

  it('npm start: SIGHUP to npm (which npm does not pass on, and dies of) does not leave the gateway orphaned', async (t) => {
    const started = await startInShell(t, 'npm start')
    process.kill(started.pid, 'SIGHUP')
    await assertGone(started)
    assert.match(started.output(), /npm, which started toolgate, has exited/)
    assert.match(started.output(), /"msg":"closed"/)
  })

  it('npx toolgate: SIGTERM to npx (whose shell dies of it) still stops the gateway', async (t) => {
    const started = await startInShell(t, 'npx toolgate')
    process.kill(started.pid, 'SIGTERM')
    await assertGone(started)
    assert.match(started.output(), /"msg":"closed"/)
  })

  it('run directly (a container, systemd): SIGHUP reloads the tools file, SIGTERM drains and exits 0', async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-cli-'))
    const toolsFile = join(directory, 'tools.yaml')
    await writeFile(toolsFile, 'builtins:\n  disabled: [get_weather]\n')
    const started = await startInShell(t, `exec ${process.execPath} ${launcher}`, { TOOLGATE_CONFIG: toolsFile })
    assert.equal(started.pid, started.gatewayPid)
    const toolNames = async () => {
      const response = await fetch(`http://127.0.0.1:${String(started.port)}/tools`)
      return ((await response.json()) as Array<{ function: { name: string } }>).map((tool) => tool.function.name)
    }
    assert.equal((await toolNames()).includes('get_weather'), false)
    await writeFile(toolsFile, 'builtins:\n  disabled: []\n')
    process.kill(started.pid, 'SIGHUP')
    await waitFor(() => /tools reloaded/.test(started.output()), 'the reload', 10_000)
    assert.equal((await toolNames()).includes('get_weather'), true)
    process.kill(started.pid, 'SIGTERM')
    const [code] = (await started.exit) as [number]
    assert.equal(code, 0)
    await assertGone(started)
  })
})

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [launcher, ...args], { cwd: repo, env: { PATH: process.env.PATH ?? '', ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code] = (await once(child, 'exit')) as [number]
  return { code, stdout, stderr }
}

describe('toolgate --help, --version, check-config', () => {
  it('--help lists every environment variable with its default, from the configuration schema', async () => {
    const { code, stdout } = await run(['--help'])
    assert.equal(code, 0)
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      const byDefault = schema.parse(undefined)
      const shown = byDefault === undefined ? '(unset)' : `default ${String(byDefault)}`
      assert.ok(stdout.includes(`  ${name}  ${shown}\n`), `${name} ${shown}`)
    }
    assert.match(stdout, /check-config/)
  })

  it('--version prints the package version', async () => {
    const { code, stdout } = await run(['--version'])
    assert.equal(code, 0)
    const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string }
    assert.equal(stdout.trim(), version)
  })

  it('check-config accepts a good tools file and names its tools, without starting anything', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-check-'))
    const file = join(directory, 'tools.yaml')
    await writeFile(
      file,
      [
        'tools:',
        '  - name: lookup',
        '    description: Look it up.',
        '    parameters: { type: object, properties: { id: { type: string } }, required: [id] }',
        '    http: { url: "http://127.0.0.1:9/lookup" }',
        'mcp:',
        '  - { name: notes, command: node, args: [no-such-file.mjs] }',
        'builtins: { disabled: [get_weather] }',
        '',
      ].join('\n'),
    )
    const { code, stdout, stderr } = await run(['check-config', file])
    assert.equal(code, 0, stderr)
    assert.match(stdout, /3 tools: get_time, get_date, lookup/)
    assert.match(stdout, /MCP servers not started[^\n]*: notes/)
    assert.match(stdout, /\nok\n$/)
  })

  it('check-config refuses a bad file with the line and path of each problem, exit 1, no stack trace', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-check-'))
    const file = join(directory, 'tools.yaml')
    await writeFile(file, 'tools:\n  - name: lookup\n    http: { url: "${NO_SUCH_VARIABLE}" }\n')
    const { code, stdout, stderr } = await run(['check-config', file])
    assert.equal(code, 1)
    assert.equal(stdout, '')
    assert.match(stderr, /^toolgate: /)
    assert.match(stderr, /tools\.yaml:3:\d+: tools\[0\]\.http\.url: the environment has no NO_SUCH_VARIABLE/)
    assert.doesNotMatch(stderr, /\n\s+at /)
  })

  it('check-config --connect starts the MCP servers, and refuses one that cannot be reached', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-check-'))
    const file = join(directory, 'tools.yaml')
    await writeFile(file, 'mcp:\n  - { name: notes, command: node, args: [no-such-file.mjs] }\n')
    const { code, stderr } = await run(['check-config', '--connect', file])
    assert.equal(code, 1)
    assert.match(stderr, /MCP server notes \(.*\) could not be reached/)
  })

  it('an unknown command or option is a usage error (exit 2)', async () => {
    assert.equal((await run(['serv'])).code, 2)
    assert.equal((await run(['--port', '1'])).code, 2)
  })

  it('healthcheck asks the address the environment gives, the loopback one for 0.0.0.0', async (t) => {
    const started = await startInShell(t, `exec ${process.execPath} ${launcher}`, { HOST: '127.0.0.1' })
    const ok = await run(['healthcheck'], { HOST: '0.0.0.0', PORT: String(started.port) })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, new RegExp(`http://127\\.0\\.0\\.1:${String(started.port)}/healthz: 200`))
    process.kill(started.pid, 'SIGTERM')
    await assertGone(started)
    const refused = await run(['healthcheck'], { HOST: '0.0.0.0', PORT: String(started.port) })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^toolgate: healthcheck: http:\/\/127\.0\.0\.1:\d+\/healthz: /)
  })
})
