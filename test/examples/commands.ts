// Running the commands an example's header (or the README) gives, as a user would type them in a
// terminal: the words as written, in a shell-like environment without what npm or node:test add.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { delimiter } from 'node:path'
import type { Readable } from 'node:stream'
import { waitFor } from '../helpers/app.ts'

/** The repo's root: the commands are given "from the repo's root". */
export const repoRoot = new URL('../../', import.meta.url).pathname

/** A simple command line: leading NAME=value words (its environment), then the command and its arguments. */
export interface Command {
  env: Record<string, string>
  argv: [string, ...string[]]
}

/** Splits a simple command line as sh would; anything needing a real shell (quotes, $, pipes, ...) is refused. */
export function parseCommand(line: string): Command {
  const words = line.trim().split(/\s+/)
  const env: Record<string, string> = {}
  while (words[0] !== undefined && /^[A-Za-z_]\w*=/.test(words[0])) {
    const word = words.shift() ?? ''
    const equals = word.indexOf('=')
    env[word.slice(0, equals)] = word.slice(equals + 1)
  }
  const [command, ...args] = words
  if (command === undefined || command === '') throw new Error(`no command in ${JSON.stringify(line)}`)
  const special = words.find((word) => /['"`$\\|&;<>(){}*?]/.test(word))
  if (special !== undefined)
    throw new Error(`${JSON.stringify(line)} is not a simple command (${special}); this helper runs only simple ones`)
  return { env, argv: [command, ...args] }
}

/** Command lines, a line ending in `\` joined with the next one; blank lines left out. */
export function commandLines(lines: string[]): string[] {
  const commands: string[] = []
  let pending: string | undefined
  for (const line of lines) {
    const joined = `${pending ?? ''} ${line.trim()}`.trim()
    if (joined.endsWith('\\')) pending = joined.slice(0, -1).trim()
    else {
      if (joined !== '') commands.push(joined)
      pending = undefined
    }
  }
  if (pending !== undefined) throw new Error(`a command line ends in \\ with nothing after it: ${pending}`)
  return commands
}

/** The command lines of a comment block: its lines indented by at least three spaces after the comment mark (`#   npm start`). */
export function indentedCommands(comment: string[], mark: string): string[] {
  const indented = comment.map((line) => (line.startsWith(mark) ? line.slice(mark.length) : line)).filter((text) => /^ {3,}\S/.test(text))
  return commandLines(indented)
}

/** The lines of the `n`th fenced block of `language` in the section of a Markdown text under `heading` (its whole line). */
export function fencedBlock(markdown: string, heading: string, language: string, n = 0): string[] {
  const lines = markdown.split('\n')
  const level = /^#+/.exec(heading)?.[0].length ?? 1
  const at = lines.indexOf(heading)
  if (at === -1) throw new Error(`no heading ${JSON.stringify(heading)}`)
  const blocks: string[][] = []
  let block: string[] | undefined
  let fenced = false
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith('```')) {
      if (fenced && block !== undefined) blocks.push(block)
      block = !fenced && line === `\`\`\`${language}` ? [] : undefined
      fenced = !fenced
    } else if (fenced) block?.push(line)
    else if ((/^(#+) /.exec(line)?.[1]?.length ?? Infinity) <= level) break
  }
  const found = blocks[n]
  if (found === undefined) throw new Error(`no ${language} block number ${String(n + 1)} under ${heading}`)
  return found
}

/** The comment lines a file opens with (each starting with `mark`). */
export function leadingComment(source: string, mark: string): string[] {
  const lines = source.split('\n')
  const end = lines.findIndex((line) => !line.startsWith(mark))
  return lines.slice(0, end === -1 ? lines.length : end)
}

/**
 * The environment of a user's terminal, approximated from this process's: without what npm adds
 * to an npm script's (npm_* variables, node_modules/.bin in PATH, so `node` is the machine's own
 * node, as the commands are typed) and what node:test gives its children, without toolgate's
 * variables, then `extra` on top.
 */
export function terminalEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dropped = /^(npm_.*|NODE|NODE_TEST_CONTEXT|INIT_CWD|HOST|PORT|LOG_LEVEL|TOOLGATE_.*|OPEN_METEO_.*|ORDERS_.*|INVENTORY_URL)$/i
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !dropped.test(name)) env[name] = value
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !/node_modules[\\/]\.bin[\\/]?$|node-gyp-bin/.test(dir))
    .join(delimiter)
  return { ...env, ...extra }
}

export interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>
  /** Everything it wrote so far, stdout and stderr together. */
  output: () => string
  exit: Promise<[number | null, NodeJS.Signals | null]>
  /** Waits until its output matches `pattern` (or it exits: an error); the match. */
  waitFor: (pattern: RegExp, what: string, timeoutMs?: number) => Promise<RegExpExecArray>
}

/** Starts `command` from the repo's root in a terminal-like environment; killed (SIGKILL) if still running when the test (or suite) ends. */
export function start(t: { after: (fn: () => void) => void }, command: Command, extraEnv: Record<string, string> = {}): Running {
  const [file, ...args] = command.argv
  const child = spawn(file, args, { cwd: repoRoot, env: terminalEnv({ ...command.env, ...extraEnv }), stdio: ['ignore', 'pipe', 'pipe'] })
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  let text = ''
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()))
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    output: () => text,
    exit,
    waitFor: async (pattern, what, timeoutMs = 20_000) => {
      await waitFor(() => pattern.test(text) || child.exitCode !== null || child.signalCode !== null, what, timeoutMs)
      const match = pattern.exec(text)
      if (match === null) throw new Error(`${command.argv.join(' ')} exited before ${what}:\n${text}`)
      return match
    },
  }
}

/** True if `name` is a command on the terminal's PATH. */
export async function onPath(name: string): Promise<boolean> {
  const child = spawn('sh', ['-c', `command -v ${name}`], { env: terminalEnv(), stdio: 'ignore' })
  const [code] = (await once(child, 'exit')) as [number | null]
  return code === 0
}
