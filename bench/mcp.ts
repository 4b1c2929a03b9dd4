// Section i of `npm run bench`: what a call costs through MCP's tools/call against one call through
// POST /execute, in the same run, on the same gateway. One client in this process makes the calls
// one after another (latency, not throughput): one get_time call as a batch of one POSTed to
// /execute (fetch), and the same call as tools/call from the official SDK clients, over revision
// 2026-07-28 (the v2 client: a POST per call, stateless) and 2025-11-25 (the v1 client: a session).
// Rounds alternate between the three, so that each sees the same moments of the machine. Per way:
// the client's latency (median, p95) and the server's CPU µs per call (its /proc times).
//
// Alone: `npm run bench -- --only mcp` (prints the table, writes mcp.md and mcp.json into
// bench/results/local/). Env: BENCH_MCP_CALLS (calls per way and round; default 1000, 200 with
// BENCH_QUICK=1), BENCH_MCP_ROUNDS (3).
import { type ChildProcess } from 'node:child_process'
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client'
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { processCpuUs } from './cpu.ts'
import { message } from './lib/bodies.ts'
import { runAlone } from './lib/alone.ts'
import { startChild, stopChild } from './lib/processes.ts'
import { median, p95, round } from './lib/stats.ts'

const quick = process.env.BENCH_QUICK === '1'
const callsPerRound = Number(process.env.BENCH_MCP_CALLS ?? (quick ? 200 : 1000))
const rounds = Number(process.env.BENCH_MCP_ROUNDS ?? 3)
const ways = ['execute', 'mcp-2026-07-28', 'mcp-2025-11-25'] as const
type Way = (typeof ways)[number]
const wayLabels: Record<Way, string> = {
  execute: 'POST /execute, a batch of one call (fetch)',
  'mcp-2026-07-28': 'MCP tools/call, revision 2026-07-28 (v2 SDK client, stateless)',
  'mcp-2025-11-25': 'MCP tools/call, revision 2025-11-25 (v1 SDK client, a session)',
}
const args = { timezone: 'Asia/Tokyo' }
const body = message([['get_time', args]])

interface Row {
  way: Way
  latencyP50Ms: number
  latencyP95Ms: number
  cpuUsPerCall: number
}

const children: ChildProcess[] = []

/** One way of making the call, ready to be made again and again. */
async function caller(url: string, way: Way): Promise<{ call: () => Promise<void>; close: () => Promise<void> }> {
  if (way === 'execute') {
    return {
      call: async () => {
        const response = await fetch(`${url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        const reply = (await response.json()) as { status: string }
        if (reply.status !== 'complete') throw new Error(`/execute answered ${JSON.stringify(reply).slice(0, 200)}`)
      },
      close: () => Promise.resolve(),
    }
  }
  const endpoint = new URL('/mcp', url)
  const client =
    way === 'mcp-2026-07-28'
      ? new ModernClient({ name: 'bench', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
      : new LegacyClient({ name: 'bench', version: '1' })
  if (client instanceof ModernClient) await client.connect(new ModernTransport(endpoint))
  else await client.connect(new LegacyTransport(endpoint))
  return {
    call: async () => {
      const result = await client.callTool({ name: 'get_time', arguments: args })
      if (result.isError === true) throw new Error(`tools/call answered ${JSON.stringify(result).slice(0, 200)}`)
    },
    close: () => client.close(),
  }
}

export async function mcpSection(log: (line: string) => void): Promise<Row[]> {
  const { child, line } = await startChild(
    children,
    process.execPath,
    [new URL('./gateway.ts', import.meta.url).pathname],
    { LOG_LEVEL: 'warn', PORT: '0' },
    /bench gateway listening at/,
  )
  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
  const pid = child.pid
  if (url === undefined || pid === undefined) throw new Error('the gateway did not say where it listens')
  const callers = new Map<Way, Awaited<ReturnType<typeof caller>>>()
  try {
    for (const way of ways) callers.set(way, await caller(url, way))
    const latencies = new Map<Way, number[]>(ways.map((way) => [way, []]))
    const cpu = new Map<Way, number[]>(ways.map((way) => [way, []]))
    for (let index = 0; index <= rounds; index++) {
      for (const way of ways) {
        const { call } = callers.get(way) ?? {}
        if (call === undefined) continue
        const times: number[] = []
        const before = processCpuUs(pid)
        for (let each = 0; each < callsPerRound; each++) {
          const started = performance.now()
          await call()
          times.push(performance.now() - started)
        }
        const cpuUs = (processCpuUs(pid) - before) / callsPerRound
        // The first round warms every way up, and is left out.
        if (index === 0) continue
        latencies.get(way)?.push(...times)
        cpu.get(way)?.push(cpuUs)
      }
    }
    const rows = ways.map((way) => ({
      way,
      latencyP50Ms: round(median(latencies.get(way) ?? []), 3),
      latencyP95Ms: round(p95(latencies.get(way) ?? []), 3),
      cpuUsPerCall: round(median(cpu.get(way) ?? [])),
    }))
    for (const row of rows) {
      log(
        `  ${wayLabels[row.way]}: p50 ${String(row.latencyP50Ms)} ms, p95 ${String(row.latencyP95Ms)} ms, server ${String(row.cpuUsPerCall)} µs CPU/call`,
      )
    }
    return rows
  } finally {
    for (const each of callers.values()) await each.close().catch(() => undefined)
    for (const each of children) await stopChild(each)
  }
}

export function mcpTable(rows: Row[]): string[] {
  const execute = rows.find((row) => row.way === 'execute')
  const over = (row: Row, key: 'latencyP50Ms' | 'cpuUsPerCall') =>
    execute === undefined || row.way === 'execute' ? '' : ` (+${String(round(row[key] - execute[key], key === 'latencyP50Ms' ? 3 : 1))})`
  return [
    `**i. tools/call over MCP against POST /execute** (one get_time call at a time from one client in the benchmark's process, ${String(callsPerRound)} calls per way and round, ${String(rounds)} rounds alternating between the ways after one of warm-up; LOG_LEVEL=warn; server CPU time from /proc):`,
    '',
    '| way | p50 ms | p95 ms | server CPU µs/call |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${wayLabels[row.way]} | ${String(row.latencyP50Ms)}${over(row, 'latencyP50Ms')} | ${String(row.latencyP95Ms)} | ${String(row.cpuUsPerCall)}${over(row, 'cpuUsPerCall')} |`,
    ),
    '',
  ]
}

if (import.meta.main) {
  await runAlone({
    name: 'mcp',
    title: 'i. tools/call over MCP against POST /execute (one call at a time)',
    children,
    run: mcpSection,
    table: mcpTable,
    facts: { callsPerRound, rounds },
  })
}
