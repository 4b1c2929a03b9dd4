// What a hardened install gets: `npm ci --ignore-scripts` leaves out the `node` package's binary
// (its install script fetches it), so npm scripts would run on the machine's own Node. On a
// machine whose Node is older than 24 they must stop with one line saying what to do, and doing
// it must be enough. This installs the project for real in a temporary directory (from npm's
// cache, or the registry).
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { waitFor } from '../helpers/app.ts'

const repo = new URL('../..', import.meta.url).pathname

/** PATH without the project's node_modules/.bin, as a shell outside npm has it. */
const outsidePath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((entry) => !entry.includes('node_modules'))
  .join(delimiter)

async function npm(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)('npm', args, { cwd, env: { ...process.env, PATH: outsidePath }, timeout: 240_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: unknown) => {
      const failed = error as { code: number; stdout: string; stderr: string }
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
    },
  )
}

const systemNode = await promisify(execFile)('node', ['--version'], { env: { PATH: outsidePath } }).then(
  ({ stdout }) => stdout.trim(),
  () => undefined,
)
const systemMajor = Number(/^v(\d+)/.exec(systemNode ?? '')?.[1] ?? 0)

describe('an install without install scripts', { timeout: 600_000 }, () => {
  it(
    `npm scripts stop with one line on the system Node (${systemNode ?? 'none'}), and npm rebuild node brings Node 24`,
    { skip: systemMajor === 0 || systemMajor >= 24 ? `the system Node is ${systemNode ?? 'absent'}: nothing to show` : false },
    async (t) => {
      const directory = await mkdtemp(join(tmpdir(), 'toolgate-ignore-scripts-'))
      t.after(() => rm(directory, { recursive: true, force: true }))
      for (const entry of ['package.json', 'package-lock.json', 'src', 'routes', 'test', 'examples']) {
        await cp(join(repo, entry), join(directory, entry), { recursive: true })
      }
      const install = await npm(directory, ['ci', '--ignore-scripts', '--prefer-offline', '--no-fund', '--no-audit'])
      assert.equal(install.code, 0, install.stderr)

      for (const script of [['start'], ['test'], ['run', 'custom-tool']]) {
        const { code, stderr } = await npm(directory, script)
        assert.equal(code, 1, `npm ${script.join(' ')}`)
        const ours = stderr.split('\n').filter((line) => line.startsWith('toolgate: '))
        assert.equal(ours.length, 1, stderr)
        assert.match(ours[0] ?? '', new RegExp(`needs Node\\.js 24 or later; this is Node ${systemNode?.slice(1) ?? ''}`))
        assert.match(ours[0] ?? '', /run `npm rebuild node --ignore-scripts=false`/)
        assert.doesNotMatch(stderr, /ERR_UNKNOWN_FILE_EXTENSION|\n\s+at /, 'no Node stack trace')
      }

      const rebuild = await npm(directory, ['rebuild', 'node', '--ignore-scripts=false'])
      assert.equal(rebuild.code, 0, rebuild.stderr)
      const version = await npm(directory, ['exec', '--', 'node', '--version'])
      assert.match(version.stdout, /^v24\./)

      const started = spawn('npm', ['start'], { cwd: directory, env: { ...process.env, PATH: outsidePath, PORT: '0' } })
      let output = ''
      started.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
      t.after(() => started.kill('SIGKILL'))
      await waitFor(() => /Server listening at/.test(output), 'the gateway to start once Node 24 is there', 30_000)
      started.kill('SIGTERM')
    },
  )
})
