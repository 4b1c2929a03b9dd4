// The reference experiment end to end: one question, a model that calls three tools at once,
// toolgate running them, and the latency of the batch in parallel against sequential: the same
// calls run 7 times each way (alternating which goes first), and the medians compared.
//
//   npm run demo
//
// With OPENAI_BASE_URL and/or OPENAI_API_KEY (and optionally OPENAI_MODEL) it asks a real
// OpenAI-compatible endpoint; without them it replays a chat completion kept in this folder.
// TOOLGATE_URL points it at a running gateway; by default it starts one in this process.
import { readFile } from 'node:fs/promises'
import OpenAI from 'openai'
import type { ChatCompletion, ChatCompletionFunctionTool, ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config/env.ts'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { startOpenMeteoStub, type OpenMeteoStub } from '../../test/helpers/open-meteo-stub.ts'

const question = "What time and date is it in Tokyo, and what's the weather there right now?"
const recording = new URL('./recorded-completion.json', import.meta.url)
const say = (line = '') => {
  process.stdout.write(`${line}\n`)
}

/** A gateway to talk to: the one at TOOLGATE_URL, or one started here (with a weather stand-in if Open-Meteo is out of reach). */
async function startGateway(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env.TOOLGATE_URL) return { url: process.env.TOOLGATE_URL, stop: () => Promise.resolve() }
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', HOST: '127.0.0.1', PORT: '0' })
  let standIn: OpenMeteoStub | undefined
  if (!(await reachable(`${config.openMeteoGeocodingUrl}/v1/search?name=Tokyo&count=1`))) {
    standIn = await startOpenMeteoStub({ latencyMs: 100 })
    config.openMeteoGeocodingUrl = standIn.url
    config.openMeteoForecastUrl = standIn.url
    say(`Open-Meteo is out of reach from this machine: get_weather asks a local stand-in at ${standIn.url}`)
    say("that answers in Open-Meteo's format with FIXED figures (100 ms per request). It is not real weather.")
    say()
  }
  const app = await buildApp(config)
  await app.listen({ host: config.host, port: 0 })
  const { port } = app.server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${String(port)}`,
    stop: async () => {
      await app.close()
      await standIn?.close()
    },
  }
}

async function reachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) })
    await response.body?.cancel()
    return response.ok
  } catch {
    return false
  }
}

type Mode = 'parallel' | 'sequential'
const modes: Mode[] = ['parallel', 'sequential']
/** How many times the batch runs each way for the comparison. */
const rounds = 7

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2
}

async function execute(gateway: string, completion: ChatCompletion, mode: Mode): Promise<ExecuteReply> {
  const response = await fetch(`${gateway}/execute?mode=${mode}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(completion),
  })
  if (!response.ok) throw new Error(`toolgate answered HTTP ${String(response.status)}: ${await response.text()}`)
  return (await response.json()) as ExecuteReply
}

const live = Boolean(process.env.OPENAI_BASE_URL ?? process.env.OPENAI_API_KEY)
const model = process.env.OPENAI_MODEL ?? 'gpt-4o-mini'
const gateway = await startGateway()
try {
  const tools = (await (await fetch(`${gateway.url}/tools`)).json()) as ChatCompletionFunctionTool[]
  const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: question }]
  say(`question: ${question}`)
  say(`tools from ${gateway.url}/tools: ${tools.map((tool) => tool.function.name).join(', ')}`)

  let completion: ChatCompletion
  const client = live ? new OpenAI({ apiKey: process.env.OPENAI_API_KEY ?? 'not-needed' }) : undefined
  if (client) {
    say(`asking ${model} at ${client.baseURL}`)
    completion = await client.chat.completions.create({ model, messages, tools, parallel_tool_calls: true })
  } else {
    say('no OPENAI_BASE_URL or OPENAI_API_KEY: REPLAYING A RECORDED chat completion')
    say(`(${recording.pathname.split('/').slice(-3).join('/')}, written in OpenAI's format, not captured from a live model)`)
    completion = JSON.parse(await readFile(recording, 'utf8')) as ChatCompletion
  }
  const assistant = completion.choices[0]?.message
  if (!assistant?.tool_calls?.length) {
    say(`the model called no tool; it said: ${assistant?.content ?? '(nothing)'}`)
  } else {
    say(`the model asked for ${String(assistant.tool_calls.length)} tool calls at once`)
    messages.push(assistant)

    // The batch is run several times each way, alternating which mode goes first, and the medians
    // are compared: one run against one run is a coin toss as soon as a call is retried, since a
    // retry waits a random backoff (full jitter) that lands in one mode and not the other.
    const runs: Record<Mode, ExecuteReply[]> = { parallel: [], sequential: [] }
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
        const reply = await execute(gateway.url, completion, mode)
        const ids = reply.results.map((result) => result.id).join(',')
        if (ids !== assistant.tool_calls.map((call) => call.id).join(','))
          throw new Error(`the ${mode} run answered calls ${ids}, not the model's`)
        runs[mode].push(reply)
      }
    }
    const parallel = runs.parallel[0] ?? (await execute(gateway.url, completion, 'parallel'))
    say()
    say(`POST /execute -> ${parallel.status}`)
    for (const result of parallel.results) {
      const shown = result.ok ? JSON.stringify(result.output) : `${String(result.error?.code)}: ${String(result.error?.message)}`
      const attempts = result.attempts > 1 ? ` (${String(result.attempts)} attempts)` : ''
      say(`  ${result.name.padEnd(12)} ${result.durationMs.toFixed(1).padStart(7)} ms  ${shown}${attempts}`)
    }

    // Times as the gateway measured each batch, to 0.1 ms; the medians and the speed-up are computed from these printed figures.
    const tenths = (ms: number) => Math.round(ms * 10) / 10
    const wall = (mode: Mode) => runs[mode].map((reply) => tenths(reply.timing.wallMs))
    const calls = assistant.tool_calls.map((call) => (call.type === 'function' ? call.function.name : call.type))
    const figures = (values: number[]) => `${values.map((ms) => ms.toFixed(1)).join(' ')}   median ${median(values).toFixed(1)}`
    say()
    say(`the same ${String(calls.length)} calls (${calls.join(', ')}), ${String(rounds)} runs each way, batch wall time in ms:`)
    for (const mode of modes) say(`  ${`${mode}:`.padEnd(12)} ${figures(wall(mode))}`)
    const retried = modes.map((mode) => runs[mode].flatMap((reply) => reply.results.filter((result) => result.attempts > 1)))
    const measured = median(wall('sequential')) / median(wall('parallel'))
    if (retried.every((results) => results.length === 0)) {
      say('  calls retried: none')
      say(`speed-up: ${measured.toFixed(2)}x (median sequential / median parallel wall time above)`)
    } else {
      // A retry waits a random backoff (full jitter), different in every run: the two modes' runs then
      // differ in more than the mode. So the comparison is made within each parallel run: its own calls,
      // with their attempts and backoff, one after another (the sum of their durations) against its wall time.
      const counts = modes.map((mode, index) => {
        const names = [...new Set(retried[index]?.map((result) => result.name))]
        return `${mode} ${String(retried[index]?.length ?? 0)}${names.length > 0 ? ` (${names.join(', ')})` : ''}`
      })
      say(`  calls retried: ${counts.join(', ')}; each retry waited a random backoff, so runs differ by more than their mode`)
      const sums = runs.parallel.map((reply) => tenths(reply.timing.sumMs))
      say(`  parallel runs, sum of their calls: ${figures(sums)}`)
      const ratios = sums.map((sum, index) => sum / (wall('parallel')[index] ?? Number.NaN))
      say(
        `speed-up: ${median(ratios).toFixed(2)}x (median over the parallel runs of: the sum of its calls' durations, retries and backoff included / its wall time; ` +
          `median sequential / median parallel wall: ${measured.toFixed(2)}x)`,
      )
    }
    const slowest = parallel.results.reduce((a, b) => (b.durationMs > a.durationMs ? b : a))
    say(`(in parallel a batch takes as long as its slowest call, here ${slowest.name}; in sequence, the sum of its calls)`)

    messages.push(...parallel.messages)
    say()
    if (client) {
      const answer = await client.chat.completions.create({ model, messages, tools })
      say(`final answer: ${answer.choices[0]?.message.content ?? '(none)'}`)
    } else {
      say(`the ${String(parallel.messages.length)} tool messages are appended; skipping the final answer: no model to ask`)
    }
  }
} finally {
  await gateway.stop()
}
