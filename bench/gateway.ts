// A toolgate server for the benchmark: the built-in tools plus the benchmark's, in its own process.
// Env: PORT, WAIT_URL (the local upstream), OPEN_METEO_*_URL, LOG_LEVEL, and any other of toolgate's settings.
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/env.ts'
import { createBuiltinTools } from '../src/tools/builtin/builtin-tools.ts'
import { burnOnMainThread, burnOnWorkers, noopTools, upstreamWaitTool } from './tools.ts'

const config = loadConfig()
const tools = [...createBuiltinTools(config), ...noopTools, upstreamWaitTool(process.env.WAIT_URL ?? ''), burnOnMainThread, burnOnWorkers]
const app = await buildApp(config, { tools })
const url = await app.listen({ host: '127.0.0.1', port: config.port })
// Said whatever LOG_LEVEL is (Fastify's own "Server listening at" is an info line).
process.stdout.write(`bench gateway listening at ${url}\n`)
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
