// Every shell block of the README is run: here, against a gateway started with `npm start` as the
// quick start does, or by the test (or CI step) named for it below. A new block that is neither
// fails this test. Only the port is changed (a free one for 8080, so that tests run side by side);
// commands run in a terminal-like environment whose `node` is the machine's own.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { onPath, parseCommand, repoRoot, start, terminalEnv } from './examples/commands.ts'

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')

interface Block {
  /** Line of the opening fence, 1-based. */
  line: number
  lines: string[]
  /** The block that follows it, if it is a json block: the output it shows. */
  shownJson?: string
}

function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let index = 0; index < lines.length; index++) {
    if (lines[index] !== '```sh') continue
    const end = lines.indexOf('```', index + 1)
    const block: Block = { line: index + 1, lines: lines.slice(index + 1, end) }
    // A json block right after (blank lines and one sentence of prose at most between) shows the output.
    const next = lines.findIndex((line, at) => at > end && line.startsWith('```'))
    if (next !== -1 && lines[next] === '```json' && next - end <= 2) {
      block.shownJson = lines.slice(next + 1, lines.indexOf('```', next + 1)).join('\n')
    }
    blocks.push(block)
    index = end
  }
  return blocks
}

/** Blocks run elsewhere, by their first line, and where. */
const runElsewhere: Record<string, string> = {
  'npm ci && npm start': '.ci/run runs `npm ci` and `npm test`; test/cli/toolgate-command.test.ts runs `npm start`',
  'npm start & pid=$!': 'test/cli/toolgate-command.test.ts',
  'ORDERS_TOKEN=demo-token python3 examples/tool-servers/orders.py 9000': 'test/examples/tool-servers.test.ts',
  'curl -s http://127.0.0.1:8080/execute -H \'content-type: application/json\' -d \'{"role":"assistant","tool_calls":[\n  {"id":"c1"':
    'test/examples/tool-servers.test.ts (the walk-through: it needs the three tool servers)',
  'docker build -t toolgate .': 'not here: no Docker engine runs on these machines; .ci/runtime-stage.sh reproduces the image',
}

function elsewhere(block: Block): string | undefined {
  const text = block.lines.join('\n')
  return Object.entries(runElsewhere).find(([start]) => text.startsWith(start))?.[1]
}

/** The commands of a block, each with the output it shows: `$ ` prompts, or a command then its JSON output lines. */
function commandsOf(block: Block): Array<{ command: string; shown?: string; files: Record<string, string> }> {
  const commands: Array<{ command: string; shown?: string; files: Record<string, string> }> = []
  if (block.lines.some((line) => line.startsWith('$ '))) {
    // A transcript: `$ cat FILE` shows a file's content; the other prompts are commands, with their output after them.
    const files: Record<string, string> = {}
    let current: { command: string; output: string[] } | undefined
    const flush = () => {
      if (current === undefined) return
      const cat = /^cat (\S+)$/.exec(current.command)
      if (cat?.[1] !== undefined) files[cat[1]] = `${current.output.join('\n').trimEnd()}\n`
      else commands.push({ command: current.command, shown: current.output.join('\n').trim(), files: { ...files } })
    }
    for (const line of block.lines) {
      if (line.startsWith('$ ')) {
        flush()
        current = { command: line.slice(2), output: [] }
      } else current?.output.push(line)
    }
    flush()
    return commands
  }
  let pending: string[] = []
  for (const line of [...block.lines, '']) {
    if (line.startsWith('[') || line.startsWith('{')) {
      commands.push({ command: pending.join('\n'), shown: line, files: {} })
      pending = []
    } else if (line.trim() === '') {
      if (pending.length > 0) commands.push({ command: pending.join('\n'), files: {} })
      pending = []
    } else if (!line.startsWith('#')) pending.push(line)
  }
  if (block.shownJson !== undefined && commands.length === 1 && commands[0] !== undefined) commands[0].shown = block.shownJson
  return commands
}

/** Values that differ from run to run (clock readings, durations); everything else must be as shown. */
const stableKeys = new Set([
  'id',
  'tool_call_id',
  'tool_use_id',
  'call_id',
  'name',
  'tool_name',
  'role',
  'type',
  'code',
  'status',
  'ok',
  'path',
])

/** The reply has the shape shown: the same keys, the same lengths, the same ids, names, roles and codes. */
function assertSameShape(actual: unknown, shown: unknown, path: string): void {
  if (typeof shown === 'string' && typeof actual === 'string' && /^[[{]/.test(shown)) {
    const inner = (text: string): unknown => {
      try {
        return JSON.parse(text)
      } catch {
        return text
      }
    }
    const [a, s] = [inner(actual), inner(shown)]
    if (typeof s !== 'string') {
      assertSameShape(a, s, `${path}(json)`)
      return
    }
  }
  if (Array.isArray(shown)) {
    assert.ok(Array.isArray(actual), `${path} is an array`)
    assert.equal(actual.length, shown.length, `${path}: ${String(shown.length)} items`)
    shown.forEach((item: unknown, index) => {
      assertSameShape(actual[index], item, `${path}[${String(index)}]`)
    })
    return
  }
  if (shown !== null && typeof shown === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path} is an object`)
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(shown).sort(), `${path}: the keys shown`)
    for (const [key, value] of Object.entries(shown)) {
      const got: unknown = (actual as Record<string, unknown>)[key]
      if (stableKeys.has(key) && (typeof value !== 'object' || value === null)) assert.deepEqual(got, value, `${path}.${key}`)
      else assertSameShape(got, value, `${path}.${key}`)
    }
    return
  }
  assert.equal(typeof actual, typeof shown, `${path}: a ${typeof shown}`)
}

/** The JSON a command printed: one document, or NDJSON lines. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as unknown)
  }
}

async function sh(command: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('sh', ['-c', command], { cwd, env: terminalEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stdout, stderr }
}

const blocks = shellBlocks(readme)
const tools = { curl: await onPath('curl'), jq: await onPath('jq') }

describe("the README's shell commands", () => {
  it('every block is run here or by a named test', () => {
    assert.ok(blocks.length >= 10)
    for (const block of blocks) {
      const first = block.lines[0] ?? ''
      const runsHere = /^(npx toolgate|curl|# |\$ )/.test(first)
      assert.ok(runsHere || elsewhere(block) !== undefined, `README.md:${String(block.line)} (${first}) is run by no test`)
    }
  })

  it(
    'run as written against `npm start` (port aside) give what the README shows',
    { skip: tools.curl && tools.jq ? false : 'needs curl and jq, which the README says its examples use' },
    async (t) => {
      const port = 18_000 + Math.floor(Math.random() * 10_000)
      const gateway = start(t, parseCommand('npm start'), { PORT: String(port) })
      await gateway.waitFor(/Server listening at/, 'the gateway to listen', 30_000)
      const scratch = await mkdtemp(join(tmpdir(), 'toolgate-readme-'))
      t.after(() => rm(scratch, { recursive: true, force: true }))
      let ran = 0
      for (const block of blocks.filter((candidate) => elsewhere(candidate) === undefined)) {
        for (const { command, shown, files } of commandsOf(block)) {
          for (const [name, content] of Object.entries(files)) await writeFile(join(scratch, name), content)
          const asRun = command.replaceAll('127.0.0.1:8080', `127.0.0.1:${String(port)}`)
          const where = `README.md:${String(block.line)}: ${command.split('\n')[0] ?? ''}`
          const result = await sh(asRun, command.startsWith('npx ') ? repoRoot : scratch)
          assert.equal(result.code, 0, `${where}\n${result.stderr}`)
          if (command.startsWith('curl')) {
            const reply = parsed(result.stdout)
            if (shown !== undefined && shown !== '') assertSameShape(reply, parsed(shown), where)
            else assert.ok(result.stdout.length > 0, where)
          }
          ran++
        }
      }
      assert.ok(ran >= 10, `${String(ran)} commands ran`)
      gateway.child.kill('SIGTERM')
      await gateway.exit
    },
  )
})
