// The reference experiment end to end: one question, a model that calls three tools at once,
// toolgate running them, and the latency of the batch in parallel against sequential.
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

async function execute(gateway: string, completion: ChatCompletion, mode: 'parallel' | 'sequential'): Promise<ExecuteReply> {
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

    const parallel = await execute(gateway.url, completion, 'parallel')
    say()
    say(`POST /execute -> ${parallel.status}`)
    for (const result of parallel.results) {
      const shown = result.ok ? JSON.stringify(result.output) : `${String(result.error?.code)}: ${String(result.error?.message)}`
      say(`  ${result.name.padEnd(12)} ${result.durationMs.toFixed(1).padStart(7)} ms  ${shown}`)
    }
    const sequential = await execute(gateway.url, completion, 'sequential')
    say()
    say(`batch wall time, parallel:   ${parallel.timing.wallMs.toFixed(1).padStart(7)} ms`)
    say(`batch wall time, sequential: ${sequential.timing.wallMs.toFixed(1).padStart(7)} ms`)
    say(`speed-up: ${(sequential.timing.wallMs / parallel.timing.wallMs).toFixed(2)}x`)
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
