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

export const usage = 'usage: npm run bench [-- --record]   (--record: rewrite the committed figures in bench/results/)'

export interface BenchOutput {
  /** Where the files go. */
  dir: URL
  /** True: the committed figures are rewritten. */
  record: boolean
}

/** Reads bench/run.ts's arguments (`--record`, nothing else); throws on any other. */
export function benchOutput(args: string[]): BenchOutput {
  const { values } = parseArgs({ args, options: { record: { type: 'boolean', default: false } }, strict: true, allowPositionals: false })
  return { dir: values.record ? recordedDir : localDir, record: values.record }
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
