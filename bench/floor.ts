// Section g's floor row, not toolgate: a bare Fastify route doing only what no configuration of
// toolgate can skip, with toolgate's own code for it: the payload decoded (decodePayload), the batch
// run (runBatch, with the call log and the metrics watching it at info), the reply written by
// JSON.stringify, and toolgate's logger and access line. No hooks, schemas, approvals, cancellation
// or refusals. What toolgate costs above this row is its shell; what this row costs above the echo
// is the work itself. With BENCH_FLOOR_REPLAY=1 only the first request runs its batch: every later
// one is decoded and answered that reply's bytes again, which parts the batch run (the executor,
// the tools, the call lines and the reply's serialization) from the rest. Env: PORT, LOG_LEVEL,
// BENCH_FLOOR_REPLAY.
import Fastify from 'fastify'
import { Executor } from '../src/batch/executor.ts'
import { executorOptionsOf } from '../src/batch/executor-options.ts'
import { composeObservers } from '../src/batch/observer.ts'
import { runBatch } from '../src/batch/run-batch.ts'
import { loadConfig } from '../src/config/env.ts'
import { AccessLog } from '../src/observability/access-log.ts'
import { callLog } from '../src/observability/call-log.ts'
import { createLogger } from '../src/observability/logger.ts'
import { Metrics } from '../src/observability/metrics.ts'
import { decodePayload } from '../src/providers/index.ts'
import { createBuiltinTools } from '../src/tools/builtin/builtin-tools.ts'
import { ToolRegistry } from '../src/tools/registry.ts'
import { noopTools } from './tools.ts'

const config = loadConfig()
const { logger, close } = createLogger(config)
const app = Fastify({ loggerInstance: logger, logController: new AccessLog() })
const executor = new Executor(new ToolRegistry([...createBuiltinTools(config), ...noopTools]), executorOptionsOf(config))
const metrics = new Metrics(() => executor.stats)
const replay = process.env.BENCH_FLOOR_REPLAY === '1'
let replayed: string | undefined

app.post('/execute', async (request, reply) => {
  const decoded = decodePayload(request.body)
  if (!decoded.success) return reply.code(400).send({ error: 'not a payload' })
  if (replayed !== undefined) return reply.type('application/json; charset=utf-8').send(replayed)
  const answer = await runBatch(executor, {
    payload: decoded.data,
    log: request.log,
    observer: composeObservers(callLog(request.log), metrics),
  })
  const json = JSON.stringify(answer)
  if (replay) replayed = json
  return reply.type('application/json; charset=utf-8').send(json)
})
const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`bench floor listening at ${url}\n`)
process.on('SIGTERM', () => {
  void app.close().then(() => {
    close()
    process.exit(0)
  })
})
