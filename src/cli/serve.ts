import { listenForHealthChecks, type HealthListener } from '../http/health-listener.ts'
import { flushLog, flushLogSync } from '../observability/logger.ts'
import { watchNpmParent } from './npm-parent.ts'
import { startApp } from './start-app.ts'

const loopback = ['127.0.0.1', 'localhost', '::1']

/**
 * `toolgate` with no command: loads the configuration, builds the app, listens, and closes with
 * grace. SIGTERM and SIGINT drain and exit 0 (a second one exits at once); SIGHUP reloads.
 */
export async function serve(environment: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { config, app } = await startApp(environment)

  let health: HealthListener | undefined
  let closing = false
  async function shutdown(reason: string): Promise<void> {
    if (closing) {
      app.log.warn({ reason }, 'second signal: exiting now')
      flushLogSync(app.log)
      process.exit(1)
    }
    closing = true
    app.log.info({ reason, graceMs: config.shutdownGraceMs }, 'shutting down: finishing the batches in flight')
    const grace = setTimeout(() => {
      app.log.warn('grace period over: answering the calls still in flight as cancelled')
      app.executor.cancelAll()
    }, config.shutdownGraceMs)
    grace.unref()
    // Refuse new work at once, on connections already open too, while the server closes its listener.
    app.stopTakingWork()
    await app.close()
    await health?.close()
    clearTimeout(grace)
    app.log.info('closed')
    // The lines are buffered: all of them are out before the process is.
    await flushLog(app.log)
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
  await watchNpmParent(() => {
    app.log.warn('npm, which started toolgate, has exited without passing a signal on (it passes only SIGINT and SIGTERM)')
    void shutdown('npm exited')
  })

  if (config.apiKeys.length === 0 && config.apiKeysFile === undefined && !loopback.includes(config.host)) {
    app.log.warn(
      { host: config.host },
      'LISTENING BEYOND LOOPBACK WITHOUT API KEYS: anyone who can reach this address can run its tools; set TOOLGATE_API_KEYS',
    )
  }

  try {
    await app.listen({ host: config.host, port: config.port })
    if (config.healthPort !== undefined) {
      health = await listenForHealthChecks(app, { host: config.healthHost, port: config.healthPort }, config)
      app.log.info({ url: health.url }, 'health checks (GET /healthz, /readyz) listening')
    }
    void flushLog(app.log)
  } catch (error) {
    // fatal() writes every buffered line before it returns.
    app.log.fatal({ err: error }, 'could not listen')
    process.exit(1)
  }
}
