import fp from 'fastify-plugin'
import { composeObservers } from '../../batch/observer.ts'
import type { McpGateway } from '../../mcp-server/gateway-server.ts'
import { McpHttpEndpoint } from '../../mcp-server/streamable-http.ts'
import { callLog } from '../../observability/call-log.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The registry served over MCP (POST /mcp), through the same executor as POST /execute. */
    mcpEndpoint: McpHttpEndpoint
  }
}

/** What the MCP server runs its calls through: this gateway's executor, executions, call log, metrics and tracing. */
export function mcpGatewayOf(app: import('fastify').FastifyInstance): McpGateway {
  const log = app.log.child({ route: '/mcp' })
  return {
    executor: app.executor,
    executions: app.executions,
    maxWaitMs: app.config.maxWaitSeconds * 1000,
    log,
    approvalsFor: (caller) => app.approvals.withoutDecisions(caller.approve),
    observe: (call, trace) =>
      composeObservers(
        callLog(log),
        app.metrics,
        app.tracing?.startBatch(trace, { 'toolgate.batch.calls': 1, 'toolgate.mcp.tool': call.name }),
      ),
  }
}

/** The MCP endpoint: told when the tools change, closed (its sessions with it) before the executor cancels what is left. */
export const mcpServerPlugin = fp(
  (app, _options, done) => {
    const endpoint = new McpHttpEndpoint(mcpGatewayOf(app), {
      maxSessions: app.config.mcpMaxSessions,
      sessionIdleMs: app.config.mcpSessionIdleMs,
    })
    app.decorate('mcpEndpoint', endpoint)
    app.toolSources.subscribe(() => {
      endpoint.toolsChanged()
    })
    // Closing waits for the requests in flight: the streams that only listen would never end.
    app.addHook('preClose', (next) => {
      endpoint.drain()
      next()
    })
    app.addHook('onClose', async () => {
      await endpoint.close()
    })
    done()
  },
  {
    name: 'toolgate-mcp-server',
    fastify: '5.x',
    dependencies: [
      'toolgate-config',
      'toolgate-tool-sources',
      'toolgate-executor',
      'toolgate-executions',
      'toolgate-observability',
      'toolgate-approvals',
    ],
  },
)
