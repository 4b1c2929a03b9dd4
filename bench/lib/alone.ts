import type { ChildProcess } from 'node:child_process'
import { localDir, writeResults } from './output.ts'

/**
 * A section of the benchmark run alone (`npm run bench -- --only <name>`): says its title, runs it,
 * prints its table and writes `<name>.md` and `<name>.json` (the rows, and `facts` about the run)
 * into bench/results/local/. Its child processes are killed if the run is; a failure sets exit code 1.
 */
export async function runAlone<Row>(options: {
  name: string
  title: string
  children: ChildProcess[]
  run: (log: (line: string) => void) => Promise<Row[]>
  table: (rows: Row[]) => string[]
  facts?: Record<string, unknown>
}): Promise<void> {
  const say = (text: string) => process.stdout.write(`${text}\n`)
  process.on('SIGTERM', () => {
    for (const child of options.children) child.kill('SIGKILL')
    process.exit(143)
  })
  try {
    say(options.title)
    const rows = await options.run(say)
    const table = options.table(rows)
    say(`\n${table.join('\n')}`)
    const date = new Date().toISOString()
    const written = await writeResults(localDir, {
      [`${options.name}.json`]: `${JSON.stringify({ date, node: process.version, ...options.facts, rows }, null, 2)}\n`,
      [`${options.name}.md`]: `Measured ${date.slice(0, 10)}, Node ${process.version}.\n\n${table.join('\n')}\n`,
    })
    say(`wrote ${written.join(', ')}`)
  } catch (error) {
    process.exitCode = 1
    say(`${options.name} benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}
