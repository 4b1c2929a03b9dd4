// One load run with autocannon, in its own process so that the load generator never shares an event
// loop with what it measures. Every response body is checked, not only its status. Coordinated
// omission is corrected (autocannon's default, kept explicit). Prints one JSON summary line.
// Args: url bodyFile check(execute|echo) connections seconds. Env: BENCH_AUTHORIZATION, sent as the
// Authorization header when set; BENCH_IDEMPOTENCY (unique or fixed) an Idempotency-Key.
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import type { LoadResult } from './lib/load-result.ts'

const [url = '', bodyFile = '', check = 'execute', connections = '16', seconds = '10'] = process.argv.slice(2)
const body = readFileSync(bodyFile, 'utf8')
const expectedCalls = JSON.parse(body) as { tool_calls?: unknown[]; choices?: Array<{ message: { tool_calls: unknown[] } }> }
const callCount = (expectedCalls.tool_calls ?? expectedCalls.choices?.[0]?.message.tool_calls ?? []).length
/** BENCH_IDEMPOTENCY=unique sends a new Idempotency-Key with each request, fixed the same one with all. */
const keying =
  process.env.BENCH_IDEMPOTENCY === 'unique' || process.env.BENCH_IDEMPOTENCY === 'fixed' ? process.env.BENCH_IDEMPOTENCY : undefined
let sent = 0
let checked = 0
let mismatched = 0

function verify(status: number, text: string): void {
  checked++
  if (status !== 200) return
  try {
    const reply = JSON.parse(text) as { status?: string; messages?: unknown[] }
    const ok =
      check === 'echo'
        ? text === body || JSON.stringify(reply) === JSON.stringify(JSON.parse(body))
        : check === 'python'
          ? Array.isArray(reply.messages) && reply.messages.length === callCount
          : reply.status === 'complete' && reply.messages?.length === callCount
    if (!ok) mismatched++
  } catch {
    mismatched++
  }
}

const result = await autocannon({
  url,
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    ...(process.env.BENCH_AUTHORIZATION === undefined ? {} : { authorization: process.env.BENCH_AUTHORIZATION }),
  },
  body,
  connections: Number(connections),
  duration: Number(seconds),
  ignoreCoordinatedOmission: false,
  requests: [
    {
      setupRequest: (request) => {
        if (keying === undefined) return request
        const key = keying === 'fixed' ? 'bench-replayed-key' : `bench-${String(process.pid)}-${String(++sent)}`
        return { ...request, headers: { ...request.headers, 'idempotency-key': key } }
      },
      onResponse: (status: number, responseBody: string) => {
        verify(status, responseBody)
      },
    },
  ],
})
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    checked,
    mismatched,
  } satisfies LoadResult)}\n`,
)
