import { buildApp } from './app.ts'
import { ConfigFileError } from './config/yaml-file.ts'
import { ConfigError, loadConfig, type Config } from './config/env.ts'
import { installProcessGuards } from './observability/process-guards.ts'
import { ToolDefinitionError } from './tools/tool.ts'

// The entry point only loads the configuration, builds the app, listens and closes with grace.
let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`toolgate: ${error.message}\n`)
  process.exit(1)
}

let app: Awaited<ReturnType<typeof buildApp>>
try {
  app = await buildApp(config)
} catch (error) {
  // A bad configuration file or tool set: say what is wrong, without a stack trace.
  if (!(error instanceof ConfigFileError || error instanceof ToolDefinitionError)) throw error
  process.stderr.write(`toolgate: ${error.message}\n`)
  process.exit(1)
}

installProcessGuards(app.log, {
  onFailure: () => {
    app.metrics.uncaughtFailure()
  },
})

let closing = false
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (closing) {
    app.log.warn({ signal }, 'second signal: exiting now')
    process.exit(1)
  }
  closing = true
  app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: finishing the batches in flight')
  const grace = setTimeout(() => {
    app.log.warn('grace period over: answering the calls still in flight as cancelled')
    app.executor.cancelAll()
  }, config.shutdownGraceMs)
  grace.unref()
  // Refuse new work at once, on connections already open too, while the server closes its listener.
  app.stopTakingWork()
  await app.close()
  clearTimeout(grace)
  app.log.info('closed')
  process.exit(0)
}
// SIGHUP rereads TOOLGATE_CONFIG and TOOLGATE_API_KEYS_FILE; a bad file is refused and what is in service stays.
process.on('SIGHUP', () => {
  app.reloadTools().catch((error: unknown) => {
    app.log.error({ err: error }, 'reload refused; the tools and keys in service are unchanged')
  })
})
process.on('SIGTERM', (signal) => void shutdown(signal))
process.on('SIGINT', (signal) => void shutdown(signal))

if (config.apiKeys.length === 0 && config.apiKeysFile === undefined && !['127.0.0.1', 'localhost', '::1'].includes(config.host)) {
  app.log.warn(
    { host: config.host },
    'LISTENING BEYOND LOOPBACK WITHOUT API KEYS: anyone who can reach this address can run its tools; set TOOLGATE_API_KEYS',
  )
}

try {
  await app.listen({ host: config.host, port: config.port })
} catch (error) {
  app.log.fatal({ err: error }, 'could not listen')
  process.exit(1)
}
