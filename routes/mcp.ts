import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'
import { toWebRequest } from '../src/http/web-request.ts'
import { anyCaller } from '../src/mcp-server/gateway-server.ts'

const mcpRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.route({
    method: ['POST', 'GET', 'DELETE'],
    url: '/mcp',
    schema: {
      summary: 'The registry as an MCP server (Streamable HTTP)',
      description:
        "MCP's Streamable HTTP transport: revision 2026-07-28 (stateless) and the 2025 revisions (a session from initialize, Mcp-Session-Id). tools/list shows the tools the API key may call; tools/call runs one through the same executor as POST /execute, its failures isError results carrying toolgate's code and message. With API keys configured it wants Authorization: Bearer <key>.",
    },
    handler: async (request, reply) => {
      const caller = request.caller ?? anyCaller
      return app.mcpEndpoint.handle(toWebRequest(request, reply), caller, request.body)
    },
  })
  done()
}

export default mcpRoutes
