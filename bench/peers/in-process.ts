// Section f: the cost of one batch of three instant tool calls inside one process, for toolgate's
// executor (parse, validate, queue, run, format) and for what a user would otherwise embed:
// LangGraph's ToolNode, the AI SDK's tool execution (generateText over a mock model that returns
// the three calls), and a plain zod + p-queue loop with no deadlines, retries or cancellation.
// Prints one JSON line: microseconds per batch, the median of several rounds.
import { AIMessage } from '@langchain/core/messages'
import { tool as langchainTool } from '@langchain/core/tools'
import { ToolNode } from '@langchain/langgraph/prebuilt'
import { generateText, stepCountIs, tool as aiTool } from 'ai'
import { MockLanguageModelV3 } from 'ai/test'
import PQueue from 'p-queue'
import { pino } from 'pino'
import { z } from 'zod'
import { loadConfig } from '../../src/config/env.ts'
import { Executor } from '../../src/batch/executor.ts'
import { formatReply } from '../../src/batch/format-reply.ts'
import { ToolRegistry } from '../../src/tools/registry.ts'
import { defineTool } from '../../src/tools/tool.ts'

const names = ['noop_a', 'noop_b', 'noop_c']
const schema = z.object({ a: z.string() })
const argumentsJson = '{"a":"x"}'

// toolgate
const executor = new Executor(
  new ToolRegistry(names.map((name) => defineTool({ name, description: 'noop', inputSchema: schema, execute: (args) => args }))),
  loadConfig({}),
)
const log = pino({ level: 'warn' })
const rawCalls = names.map((name, index) => ({ id: `call_${String(index)}`, name, arguments: argumentsJson, path: '' }))
const toolgate = async () => formatReply(await executor.execute(rawCalls, { log }))

// a plain zod + p-queue executor: parse, validate, queue, run, format; nothing else
const queue = new PQueue({ concurrency: 64 })
const plainTools = new Map(names.map((name) => [name, (args: unknown) => args]))
const plain = async () =>
  Promise.all(
    rawCalls.map((call) =>
      queue.add(async () => {
        const args = schema.parse(JSON.parse(call.arguments))
        const output = await plainTools.get(call.name)?.(args)
        return { role: 'tool', tool_call_id: call.id, content: JSON.stringify(output) }
      }),
    ),
  )

// LangGraph ToolNode
const toolNode = new ToolNode(names.map((name) => langchainTool((args) => JSON.stringify(args), { name, description: 'noop', schema })))
const langgraph = () =>
  toolNode.invoke({
    messages: [
      new AIMessage({ content: '', tool_calls: names.map((name, index) => ({ id: `call_${String(index)}`, name, args: { a: 'x' } })) }),
    ],
  })

// AI SDK: one step of generateText whose mock model asks for the three calls
const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 1, text: 1, reasoning: undefined },
}
const model = new MockLanguageModelV3({
  doGenerate: () =>
    Promise.resolve({
      content: names.map((name, index) => ({
        type: 'tool-call' as const,
        toolCallId: `call_${String(index)}`,
        toolName: name,
        input: argumentsJson,
      })),
      finishReason: { unified: 'tool-calls' as const, raw: undefined },
      usage,
      warnings: [],
    }),
})
const aiTools = Object.fromEntries(
  names.map((name) => [name, aiTool({ description: 'noop', inputSchema: schema, execute: (args) => args })]),
)
const aiSdk = () => generateText({ model, tools: aiTools, prompt: 'x', stopWhen: stepCountIs(1) })

async function measure(run: () => Promise<unknown>, batches: number, rounds: number): Promise<number> {
  for (let i = 0; i < batches; i++) await run()
  const perRound: number[] = []
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    for (let i = 0; i < batches; i++) await run()
    perRound.push(((performance.now() - started) * 1000) / batches)
  }
  perRound.sort((a, b) => a - b)
  return perRound[Math.floor(rounds / 2)] ?? Number.NaN
}

const batches = Number(process.env.BATCHES ?? 5000)
const rounds = Number(process.env.ROUNDS ?? 7)
// Each contender answers the three calls first, so no one is timed doing less than the others.
const checks = [
  (await toolgate()).messages.length,
  (await plain()).length,
  (await langgraph()).messages.length,
  (await aiSdk()).toolResults.length,
]
if (checks.some((count) => count !== 3)) throw new Error(`a contender did not answer three calls: ${checks.join(', ')}`)
const result = {
  toolgate: await measure(toolgate, batches, rounds),
  plainZodPQueue: await measure(plain, batches, rounds),
  langgraphToolNode: await measure(langgraph, batches, rounds),
  aiSdkGenerateText: await measure(aiSdk, batches, rounds),
}
process.stdout.write(`${JSON.stringify(result)}\n`)
