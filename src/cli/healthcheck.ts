import { ConfigError, loadConfig } from '../config/env.ts'
import { fail } from './fail.ts'

/** The address to ask for a listener bound to `host`: the loopback one for a wildcard address. */
function reachable(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/**
 * `toolgate healthcheck`: GET /healthz of the gateway this environment configures (the health
 * listener if TOOLGATE_HEALTH_PORT is set, else HOST and PORT), for a container's HEALTHCHECK.
 */
export async function healthcheck(environment: NodeJS.ProcessEnv = process.env): Promise<void> {
  let url: string
  try {
    const config = loadConfig(environment)
    const [host, port] = config.healthPort !== undefined ? [config.healthHost, config.healthPort] : [config.host, config.port]
    if (port === 0) fail('healthcheck: the port is 0 (picked at start-up), so there is no address to ask')
    url = `http://${reachable(host)}:${String(port)}/healthz`
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch((error: unknown) => {
    fail(
      `healthcheck: ${url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`,
    )
  })
  if (!response.ok) fail(`healthcheck: ${url} answered ${String(response.status)}`)
  process.stdout.write(`${url}: ${String(response.status)}\n`)
}
