import type { App } from '../app.ts'
import { mcpGatewayOf } from '../http/plugins/mcp-server.ts'
import { anyCaller, type McpCaller } from '../mcp-server/gateway-server.ts'
import { serveRegistryOverStdio } from '../mcp-server/stdio.ts'
import { flushLog } from '../observability/logger.ts'
import { fail } from './fail.ts'
import { startApp } from './start-app.ts'

/**
 * `toolgate mcp-stdio`: the gateway's tools served over MCP on stdin and stdout to the client that
 * started this process, through the same executor, limits and tool sources as the HTTP gateway
 * (which it does not open). Logs go to stderr. With API keys configured, TOOLGATE_MCP_STDIO_KEY names
 * the key whose tools the client may call; the process ends when the client closes stdin.
 */
export async function mcpStdio(environment: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { config, app } = await startApp(environment, { logStream: 'stderr' })
  await app.ready()
  const caller = callerOf(app, config.mcpStdioKey)
  const server = serveRegistryOverStdio(mcpGatewayOf(app), caller)
  app.toolSources.subscribe(() => {
    server.toolsChanged()
  })
  app.log.info({ caller: caller.name, tools: app.registry.size }, 'serving MCP over stdio')
  let closing = false
  const close = async (reason: string) => {
    if (closing) return
    closing = true
    app.log.info({ reason }, 'MCP over stdio: closing')
    await server.close()
    await app.close()
    await flushLog(app.log)
    process.exit(0)
  }
  process.stdin.once('end', () => void close('the client closed stdin'))
  process.on('SIGTERM', (signal) => void close(signal))
  process.on('SIGINT', (signal) => void close(signal))
}

/** Without API keys, anyone who can start the process may call every tool; with them, the key in TOOLGATE_MCP_STDIO_KEY decides. */
function callerOf(app: App, key: string | undefined): McpCaller {
  if (app.keyRing.open) return anyCaller
  const caller = key === undefined ? null : app.keyRing.callerOf(`Bearer ${key}`)
  if (caller === null) {
    fail('API keys are configured: set TOOLGATE_MCP_STDIO_KEY to one of them, the key whose tools the MCP client may call')
  }
  return caller
}
