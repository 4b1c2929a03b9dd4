import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { benchOutput, localDir, recordedDir, writeResults } from '../../bench/lib/output.ts'

const run = promisify(execFile)
const repoRoot = new URL('../../', import.meta.url).pathname
const git = (...args: string[]) => run('git', args, { cwd: repoRoot })
const inGit = await git('rev-parse', '--is-inside-work-tree').then(
  () => true,
  () => false,
)

describe('where npm run bench writes', () => {
  it('a plain run: bench/results/local/; --record: bench/results/; anything else is refused', () => {
    assert.deepEqual(benchOutput([]), { dir: localDir, record: false })
    assert.deepEqual(benchOutput(['--record']), { dir: recordedDir, record: true })
    assert.equal(localDir.href, new URL('../../bench/results/local/', import.meta.url).href)
    assert.equal(recordedDir.href, new URL('../../bench/results/', import.meta.url).href)
    assert.throws(() => benchOutput(['--recrod']), /Unknown option '--recrod'/)
    assert.throws(() => benchOutput(['results']), /positional/)
  })

  it('--only cpu: section g alone, into bench/results/local/, never recorded', () => {
    assert.deepEqual(benchOutput(['--only', 'cpu']), { dir: localDir, record: false, only: 'cpu' })
    assert.throws(() => benchOutput(['--only', 'scaling']), /the sections that run alone are cpu/)
    assert.throws(() => benchOutput(['--only', 'cpu', '--record']), /is not recorded/)
  })

  it(
    'the committed figures are where --record writes, and git ignores what a plain run writes',
    { skip: inGit ? false : 'not in a git work tree' },
    async () => {
      const tracked = (await git('ls-files', 'bench/results')).stdout.trim().split('\n')
      const names = ['latest.json', 'latest.md', 'scaling.svg']
      assert.deepEqual(tracked.sort(), names.map((name) => `bench/results/${name}`).sort())
      // check-ignore exits 0 for each ignored path (1 if none is).
      const ignored = (await git('check-ignore', '--no-index', ...names.map((name) => `bench/results/local/${name}`))).stdout
      assert.equal(ignored.trim().split('\n').length, names.length)
    },
  )

  it('writes each file into the directory, made if need be, and says which', async (t) => {
    const scratch = await mkdtemp(join(tmpdir(), 'toolgate-bench-output-'))
    t.after(() => rm(scratch, { recursive: true, force: true }))
    const dir = new URL('nested/', pathToFileURL(`${scratch}/`))
    const written = await writeResults(dir, { 'latest.md': '# figures\n', 'latest.json': '{}\n' })
    assert.equal(written.length, 2)
    assert.ok(written.every((path) => path.endsWith('nested/latest.md') || path.endsWith('nested/latest.json')))
    assert.equal(await readFile(new URL('latest.md', dir), 'utf8'), '# figures\n')
    assert.equal(await readFile(new URL('latest.json', dir), 'utf8'), '{}\n')
  })

  it('`npm run bench -- --record` passes the flag through npm, and a quick run is not recorded', async () => {
    const refused = await run('npm', ['run', 'bench', '--', '--record'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BENCH_QUICK: '1' },
    }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    )
    assert.equal(refused?.code, 2)
    assert.match(refused.stderr, /a quick run \(BENCH_QUICK=1\) is not recorded/)
  })
})
