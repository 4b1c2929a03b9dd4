import { Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import { pino } from 'pino'
import { buildApp, type App, type AppOptions } from '../../src/app.ts'
import { loadConfig, type Config } from '../../src/config/env.ts'

/** The configuration a server on its defaults would have, silenced, with `env` on top. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ...env })
}

/** Builds the app for one test and closes it when the test ends. */
export async function buildTestApp(t: TestContext, options: AppOptions & { env?: Record<string, string> } = {}): Promise<App> {
  const { env, ...appOptions } = options
  const app = await buildApp(testConfig(env), appOptions)
  t.after(() => app.close())
  return app
}

/** Starts the real server on a free loopback port; its base URL. */
export async function listen(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP')
  return `http://127.0.0.1:${String(address.port)}`
}

/** A pino logger at `level` whose JSON lines are kept, parsed, in `lines`. */
export function captureLogs(level = 'info'): { logger: NonNullable<AppOptions['logger']>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      }
      callback()
    },
  })
  return { logger: pino({ level }, stream), lines }
}

export type CallSpec = [id: string, name: string, args?: unknown]

/** One assistant message whose tool_calls are `calls`; object arguments are sent as JSON strings. */
export function assistantMessage(calls: CallSpec[]) {
  return {
    role: 'assistant' as const,
    content: null,
    tool_calls: calls.map(([id, name, args]) => ({
      id,
      type: 'function' as const,
      function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
    })),
  }
}

/** The same calls as an OpenAI Chat Completions response. */
export function chatCompletion(calls: CallSpec[]) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion' as const,
    created: 1_764_000_000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, finish_reason: 'tool_calls', logprobs: null, message: { ...assistantMessage(calls), refusal: null } }],
    usage: { prompt_tokens: 80, completion_tokens: 60, total_tokens: 140 },
  }
}

/** Polls `condition` until it holds; fails the test after `timeoutMs` instead of hanging it. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
