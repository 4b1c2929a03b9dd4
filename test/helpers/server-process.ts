import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import type { TestContext } from 'node:test'
import { waitFor } from './app.ts'
import { freePort } from './ports.ts'

export const serverEntry = new URL('../../src/cli/toolgate.js', import.meta.url).pathname

export interface RunningServer {
  child: ChildProcessByStdio<null, Readable, Readable>
  base: string
  output: () => string
  exit: Promise<[number | null, NodeJS.Signals | null]>
}

/**
 * Starts `npm start`'s entry point as its own process, with the given environment, on a free port.
 * Below the info log level it does not say where it listens: it is then given a port and polled.
 */
export async function startServer(t: TestContext, env: Record<string, string>, entry = serverEntry): Promise<RunningServer> {
  const quiet = env.LOG_LEVEL !== undefined && !['info', 'debug', 'trace'].includes(env.LOG_LEVEL)
  const port = quiet ? String(await freePort()) : '0'
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: port, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let text = ''
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()))
  if (quiet) {
    const base = `http://127.0.0.1:${port}`
    let up = false
    const deadline = performance.now() + 15_000
    while (!up && child.exitCode === null && performance.now() < deadline) {
      up = await fetch(`${base}/healthz`).then(
        (response) => response.ok,
        () => false,
      )
      if (!up) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (!up) throw new Error(`the server did not come up: ${text}`)
    return { child, base, output: () => text, exit }
  }
  await waitFor(() => /Server listening at/.test(text) || child.exitCode !== null, 'the server to listen', 15_000)
  const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1] ?? ''
  return { child, base, output: () => text, exit }
}

/** Listens on a free loopback port until the test ends (open connections cut); the base URL. */
export async function serveOnLoopback(t: TestContext, server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
}
