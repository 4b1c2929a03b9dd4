import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { TestContext } from 'node:test'

/** The redis-server binary, if this machine has one (these machines do: Debian's redis-server). */
function redisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server || command -v valkey-server'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path !== '' ? path : undefined
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const address = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}

export interface TestRedis {
  url: string
  port: number
  /** Stops the server (SIGKILL: as a crash would), keeping its port for start(). */
  stop: () => Promise<void>
  /** Starts it again on the same port, empty (it keeps nothing on disk). */
  start: () => Promise<void>
}

/**
 * A Redis of the test's own: a redis-server on a free loopback port, keeping nothing on disk,
 * killed when the test ends; never the machine's shared one. Without a redis-server binary the test
 * is skipped, saying so, except under CI=true, where it fails: CI must never pass by skipping.
 */
export async function startRedis(t: TestContext): Promise<TestRedis | undefined> {
  const binary = redisServerBinary()
  if (binary === undefined) {
    const why = 'no redis-server (or valkey-server) on this machine'
    if (process.env.CI === 'true') throw new Error(`${why}: the Redis tests must run in CI`)
    t.skip(why)
    return undefined
  }
  const port = await freePort()
  let server: ChildProcess | undefined
  const start = async () => {
    const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    server = child
    let output = ''
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (/Ready to accept connections/.test(output)) resolve()
      }
      child.stdout.on('data', onData)
      child.stderr.on('data', onData)
      child.once('exit', (code) => {
        reject(new Error(`redis-server exited (${String(code)}): ${output}`))
      })
    })
    await ready
  }
  const stop = async () => {
    const child = server
    if (child === undefined || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  await start()
  t.after(stop)
  return { url: `redis://127.0.0.1:${String(port)}`, port, stop, start }
}
