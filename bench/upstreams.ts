// Local upstreams for the benchmark, in their own process: GET /wait?ms=N answers after N ms, and
// an Open-Meteo stand-in answers after LATENCY_MS. Prints {"waitUrl","openMeteoUrl"} once listening.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startOpenMeteoStub } from '../test/helpers/open-meteo-stub.ts'

const wait = createServer((request, response) => {
  const ms = Number(new URL(request.url ?? '/', 'http://upstream').searchParams.get('ms') ?? 0)
  setTimeout(() => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(`{"waitedMs":${String(ms)}}`)
  }, ms)
})
// Keep the gateway's pooled connections open between sections, so that no run pays for new ones.
wait.keepAliveTimeout = 120_000
wait.listen(0, '127.0.0.1')
await once(wait, 'listening')
const openMeteo = await startOpenMeteoStub({ latencyMs: Number(process.env.LATENCY_MS ?? 100) })
process.stdout.write(
  `${JSON.stringify({ waitUrl: `http://127.0.0.1:${String((wait.address() as AddressInfo).port)}`, openMeteoUrl: openMeteo.url })}\n`,
)
