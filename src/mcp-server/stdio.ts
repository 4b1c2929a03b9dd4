import type { Server } from '@modelcontextprotocol/server'
import { serveStdio } from '@modelcontextprotocol/server/stdio'
import { createGatewayServer, type McpCaller, type McpGateway } from './gateway-server.ts'

export interface StdioMcpServer {
  /** Tells the client that the tools changed (a reload, an MCP server's own change). */
  toolsChanged(): void
  close(): Promise<void>
}

/**
 * The registry served over MCP's stdio transport (this process's stdin and stdout), to one client,
 * in the era its first message opens (2026-07-28, or a 2025 initialize): for clients that only
 * launch local processes. Nothing else may write to stdout meanwhile.
 */
export function serveRegistryOverStdio(gateway: McpGateway, caller: McpCaller): StdioMcpServer {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- what createGatewayServer makes
  const servers = new Set<Server>()
  const handle = serveStdio(() => {
    const server = createGatewayServer(gateway, caller)
    servers.add(server)
    server.onclose = () => servers.delete(server)
    return server
  })
  return {
    toolsChanged: () => {
      for (const server of servers) server.sendToolListChanged().catch(() => undefined)
    },
    close: () => handle.close(),
  }
}
