// Where `npm run bench` writes its results. The figures in bench/results/ are committed (the
// README's Performance section is copied from them), so a plain run must not touch them: it
// writes into bench/results/local/, which git ignores, and only `--record` rewrites the committed
// files.
import { mkdir, writeFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const repoRoot = new URL('../../', import.meta.url)
/** The committed figures: latest.md, latest.json and scaling.svg. */
export const recordedDir = new URL('../results/', import.meta.url)
/** A plain run's results, untracked (.gitignore). */
export const localDir = new URL('../results/local/', import.meta.url)

export const usage =
  'usage: npm run bench [-- --record | -- --only cpu|idempotency|mcp]   (--record: rewrite the committed figures in bench/results/; --only: section g (cpu), h (idempotency) or i (mcp) alone, into bench/results/local/)'

/** The sections that run alone with `--only`. */
export const sectionsAlone = ['cpu', 'idempotency', 'mcp'] as const

export interface BenchOutput {
  /** Where the files go. */
  dir: URL
  /** True: the committed figures are rewritten. */
  record: boolean
  /** One section run alone (`--only cpu`), never recorded; absent for the whole benchmark. */
  only?: (typeof sectionsAlone)[number]
}

/** Reads bench/run.ts's arguments (`--record`, `--only cpu`, nothing else); throws on any other. */
export function benchOutput(args: string[]): BenchOutput {
  const { values } = parseArgs({
    args,
    options: { record: { type: 'boolean', default: false }, only: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  })
  const { only } = values
  if (only === undefined) return { dir: values.record ? recordedDir : localDir, record: values.record }
  const alone = sectionsAlone.find((name) => name === only)
  if (alone === undefined) throw new Error(`--only ${only}: the sections that run alone are ${sectionsAlone.join(', ')}`)
  if (values.record)
    throw new Error('a section run alone (--only) is not recorded: run `npm run bench -- --record` for the whole benchmark')
  return { dir: localDir, record: false, only: alone }
}

/** Writes each file (name -> content) into `dir`, made if need be; the paths written, relative to the repo's root. */
export async function writeResults(dir: URL, files: Record<string, string>): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  for (const [name, content] of Object.entries(files)) {
    const file = new URL(name, dir)
    await writeFile(file, content)
    written.push(relative(fileURLToPath(repoRoot), fileURLToPath(file)))
  }
  return written
}
