// The bare Fastify route toolgate's throughput is compared with: it parses the same JSON body and
// echoes it, with the same logger settings. Env: PORT, LOG_LEVEL; BENCH_ECHO_BUSY_US, microseconds
// of busy work before each answer (section g's calibration: what pure work costs in its figures).
import Fastify from 'fastify'
import { pino } from 'pino'

const app = Fastify({ loggerInstance: pino({ level: process.env.LOG_LEVEL ?? 'info' }) })
const busyMs = Number(process.env.BENCH_ECHO_BUSY_US ?? 0) / 1000
app.post('/echo', (request) => {
  if (busyMs > 0) {
    const until = performance.now() + busyMs
    while (performance.now() < until);
  }
  return request.body
})
const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
// Said whatever LOG_LEVEL is (Fastify's own "Server listening at" is an info line).
process.stdout.write(`bench echo listening at ${url}\n`)
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
