// One batch of three get_weather calls whose upstream takes 200 ms each (two requests of 100 ms
// to a local Open-Meteo stand-in), through the real HTTP server, in parallel and in sequential
// mode. Prints the median of the runs. Usage: node bench/three-calls.ts [runs]
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/env.ts'
import type { ExecuteReply } from '../src/batch/format-reply.ts'
import { startOpenMeteoStub } from '../test/helpers/open-meteo-stub.ts'

const runs = Number(process.argv[2] ?? 7)
const stub = await startOpenMeteoStub({ latencyMs: 100 })
const app = await buildApp(loadConfig({ LOG_LEVEL: 'warn', OPEN_METEO_GEOCODING_URL: stub.url, OPEN_METEO_FORECAST_URL: stub.url }))
await app.listen({ host: '127.0.0.1', port: 0 })
const { port } = app.server.address() as { port: number }
const body = JSON.stringify({
  role: 'assistant',
  content: null,
  tool_calls: ['Paris', 'Tokyo', 'Paris, Texas'].map((location, index) => ({
    id: `call_${String(index)}`,
    type: 'function',
    function: { name: 'get_weather', arguments: JSON.stringify({ location }) },
  })),
})

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
for (const mode of ['parallel', 'sequential']) {
  const client: number[] = []
  const server: number[] = []
  for (let run = 0; run < runs; run++) {
    const started = performance.now()
    const response = await fetch(`http://127.0.0.1:${String(port)}/execute?mode=${mode}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    const reply = (await response.json()) as ExecuteReply
    client.push(performance.now() - started)
    if (reply.status !== 'complete') throw new Error(`batch ${reply.status}: ${String(reply.errors)}`)
    server.push(reply.timing.wallMs)
  }
  console.log(
    `${mode.padEnd(10)} median wall ${median(client).toFixed(1)} ms at the client, ${median(server).toFixed(1)} ms in the gateway (${String(runs)} runs)`,
  )
}
await app.close()
await stub.close()
