import { readFile } from 'node:fs/promises'

/** One process's parent and state, from /proc (Linux); undefined if it is gone or /proc is not there. */
async function statOf(pid: number): Promise<{ ppid: number; state: string; name: string } | undefined> {
  const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return undefined
  // "pid (name) state ppid ...": the name may hold spaces and parentheses, so it ends at the last ')'.
  const end = stat.lastIndexOf(')')
  const [state = '', ppid = ''] = stat.slice(end + 2).split(' ')
  return { ppid: Number(ppid), state, name: stat.slice(stat.indexOf('(') + 1, end) }
}

/**
 * The processes between toolgate and the npm that started it (`npm start`, `npx toolgate`):
 * [parent, ..., npm], or [] when no npm is among the first few ancestors.
 */
async function chainToNpm(): Promise<number[]> {
  const chain: number[] = []
  let pid = process.ppid
  for (let depth = 0; depth < 4 && pid > 1; depth++) {
    const stat = await statOf(pid)
    if (stat === undefined) return []
    chain.push(pid)
    // npm names its process after its command: "npm start", "npm exec toolgate", "npm run ...".
    if (stat.name === 'npm' || stat.name.startsWith('npm ')) return chain
    pid = stat.ppid
  }
  return []
}

/**
 * npm passes SIGINT and SIGTERM on to the script it runs, but not SIGHUP or SIGUSR2, and `npx`
 * runs its command under a shell that dies of the signal it passes on: either way npm or the
 * shell exits and toolgate would be left running, orphaned, holding its port. So when started by
 * npm, toolgate watches the processes up to npm, and calls `onGone` once one of them is gone.
 */
export async function watchNpmParent(onGone: () => void, everyMs = 500): Promise<void> {
  if (process.env.npm_lifecycle_event === undefined) return
  const chain = await chainToNpm()
  if (chain.length === 0) return
  const links = await Promise.all(chain.map(async (pid) => (await statOf(pid))?.ppid))
  const timer = setInterval(() => {
    void (async () => {
      if (process.ppid !== chain[0]) {
        gone()
        return
      }
      const stats = await Promise.all(chain.map(statOf))
      // A shell between toolgate and npm must still have the parent it had; npm itself must only live.
      const broken = stats.some(
        (stat, index) => stat === undefined || stat.state === 'Z' || (index < chain.length - 1 && stat.ppid !== links[index]),
      )
      if (broken) gone()
    })()
  }, everyMs)
  timer.unref()
  function gone(): void {
    clearInterval(timer)
    onGone()
  }
}
