import { spawn, type ChildProcess } from 'node:child_process'
import { setTimeout as delay } from 'node:timers/promises'
import { createInterface } from 'node:readline'

/**
 * Starts a child process (added to `children`, for the caller to stop); resolves once `ready`
 * matches a line of its stdout, with that line. Its output is drained from then on (its logs: a
 * real destination, and never a full pipe).
 */
export async function startChild(
  children: ChildProcess[],
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  const lines = createInterface({ input: child.stdout })
  for await (const line of lines) {
    if (ready.test(line)) {
      child.stdout.resume()
      lines.close()
      return { child, line }
    }
  }
  throw new Error(`${command} ${args.join(' ')} exited before it was ready`)
}

/** Stops a child process: SIGTERM, then SIGKILL if it has not exited 2 s later. */
export async function stopChild(child: ChildProcess): Promise<void> {
  const running = () => child.exitCode === null && child.signalCode === null
  if (!running()) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await Promise.race([exited, delay(2_000)])
  if (running()) child.kill('SIGKILL')
}
