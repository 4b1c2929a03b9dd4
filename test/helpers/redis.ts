// A Redis of the test's own, for tests (and benchmarks) of what replicas share through Redis:
//
//   const redis = await startRedis(t)       // skipped here (or failed under CI=true) without redis-server
//   if (redis === undefined) return
//   ... TOOLGATE_REDIS_URL: redis.url ...
//   await redis.stop()                      // Redis lost, as in a crash (SIGKILL): clients see the connection drop
//   await redis.start()                     // back on the same port and URL, empty
//
// Never the machine's shared Redis: a redis-server on a free loopback port, keeping nothing on disk
// (--save '' --appendonly no), killed when the test ends, and also when the test process itself dies
// however it dies (a watchdog shell kills the server once the test process's end of a pipe closes).
// The binary: TOOLGATE_TEST_REDIS_SERVER, else /usr/bin/redis-server, else redis-server or
// valkey-server on PATH. Without one the test is skipped, saying why; under CI=true it fails instead.
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import { freePort } from './ports.ts'

/** How long redis-server may take to say it accepts connections. */
const startTimeoutMs = 10_000

/**
 * Runs redis-server ("$1", the rest its arguments) in the background, with its output on ours,
 * and waits for it; exits with its status. Once its standard input reaches end of file (the test
 * closed it, or the test process died), it kills the server with SIGKILL, as a crash would.
 */
const watchdog = `
exec 3<&0
binary=$1
shift
"$binary" "$@" </dev/null 3<&- &
server=$!
{ cat <&3 >/dev/null; kill -9 "$server" 2>/dev/null; } &
exec 3<&-
wait "$server"
`

/**
 * The redis-server binary: TOOLGATE_TEST_REDIS_SERVER when set (a path; one that is not an
 * executable counts as none), else /usr/bin/redis-server, else redis-server or valkey-server on PATH;
 * undefined without one.
 */
export function redisServerBinary(): string | undefined {
  const chosen = process.env.TOOLGATE_TEST_REDIS_SERVER
  const script =
    chosen !== undefined
      ? 'test -f "$1" && test -x "$1" && echo "$1"'
      : 'if test -x /usr/bin/redis-server; then echo /usr/bin/redis-server; else command -v redis-server || command -v valkey-server; fi'
  const found = spawnSync('/bin/sh', ['-c', script, 'sh', chosen ?? ''], { encoding: 'utf8' })
  const path = typeof found.stdout === 'string' ? found.stdout.trim() : ''
  return found.status === 0 && path !== '' ? path : undefined
}

/**
 * The redis-server binary, or undefined after skipping the test (`t.skip`, saying why) when this
 * machine has none. Under CI=true it throws instead, failing the test: CI must never pass by skipping.
 */
export function redisOrSkip(t: TestContext): string | undefined {
  const binary = redisServerBinary()
  if (binary !== undefined) return binary
  const why =
    process.env.TOOLGATE_TEST_REDIS_SERVER !== undefined
      ? `no redis-server here: TOOLGATE_TEST_REDIS_SERVER=${process.env.TOOLGATE_TEST_REDIS_SERVER} is not an executable`
      : 'no redis-server here: neither /usr/bin/redis-server nor redis-server or valkey-server on PATH (apt-get install redis-server)'
  if (process.env.CI === 'true') throw new Error(`${why}; under CI=true the Redis tests must run, not be skipped`)
  t.skip(why)
  return undefined
}

export interface TestRedis {
  /** redis://127.0.0.1:<port>, for TOOLGATE_REDIS_URL. */
  url: string
  port: number
  /** Stops the server with SIGKILL (as a crash would: clients see their connection drop), keeping its port for start(). Idempotent. */
  stop: () => Promise<void>
  /** Starts it again on the same port, empty (it keeps nothing on disk); resolves once it accepts connections. No-op while it runs. */
  start: () => Promise<void>
}

type Server = ChildProcessByStdio<Writable, Readable, Readable>

class PortTaken extends Error {}

/** Starts redis-server on `port`; resolves once it accepts connections, rejects (PortTaken if the port is in use) if it exits or is slow. */
async function launch(binary: string, port: number): Promise<Server> {
  const server = spawn(
    '/bin/sh',
    ['-c', watchdog, 'redis-watchdog', binary, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  // The pipe is the watchdog's leash; never let it hold this process open or fail it.
  server.stdin.on('error', () => {})
  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`redis-server did not accept connections on port ${String(port)} within ${String(startTimeoutMs)} ms: ${output}`))
      }, startTimeoutMs)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (/Ready to accept connections/.test(output)) {
          clearTimeout(timer)
          resolve()
        }
      }
      // Read on after start, so that a full pipe never blocks the server.
      server.stdout.on('data', onData)
      server.stderr.on('data', onData)
      server.once('exit', (code, signal) => {
        clearTimeout(timer)
        const failure = `redis-server exited (${String(code ?? signal)}) on port ${String(port)}: ${output}`
        reject(/Address already in use/i.test(output) ? new PortTaken(failure) : new Error(failure))
      })
    })
  } catch (error) {
    await kill(server)
    throw error
  }
  return server
}

/** Ends the watchdog's standard input, which kills the server, and waits for both to exit. */
async function kill(server: Server): Promise<void> {
  const exited = server.exitCode !== null || server.signalCode !== null ? undefined : once(server, 'exit')
  server.stdin.end()
  await exited
}

/**
 * A redis-server of the test's own on a free loopback port (see the top of this file), stopped when
 * the test ends; undefined when the test was skipped for want of a binary (see redisOrSkip).
 */
export async function startRedis(t: TestContext): Promise<TestRedis | undefined> {
  const binary = redisOrSkip(t)
  if (binary === undefined) return undefined
  let server: Server | undefined
  let port = 0
  // Another process may take the free port before redis-server binds it: a few ports are tried.
  for (let attempt = 1; server === undefined; attempt++) {
    port = await freePort()
    try {
      server = await launch(binary, port)
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt === 5) throw error
    }
  }
  const stop = async () => {
    const running = server
    server = undefined
    if (running !== undefined) await kill(running)
  }
  const start = async () => {
    if (server !== undefined && server.exitCode === null) return
    // The port is the server's to take again; if something else took it meanwhile, wait a little for it.
    const deadline = performance.now() + 5_000
    for (;;) {
      try {
        server = await launch(binary, port)
        return
      } catch (error) {
        if (!(error instanceof PortTaken) || performance.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }
  t.after(stop)
  return { url: `redis://127.0.0.1:${String(port)}`, port, stop, start }
}
