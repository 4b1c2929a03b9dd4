// The bare Fastify route toolgate's throughput is compared with: it parses the same JSON body and
// echoes it, with the same logger settings. Env: PORT, LOG_LEVEL.
import Fastify from 'fastify'
import { pino } from 'pino'

const app = Fastify({ loggerInstance: pino({ level: process.env.LOG_LEVEL ?? 'info' }) })
app.post('/echo', (request) => request.body)
const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
// Said whatever LOG_LEVEL is (Fastify's own "Server listening at" is an info line).
process.stdout.write(`bench echo listening at ${url}\n`)
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
