import fp from 'fastify-plugin'
import { ToolSources } from '../../tools/tool-sources.ts'
import type { Tool } from '../../tools/tool.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the tools in service come from: built-in, HTTP and MCP tools, reloaded on demand. */
    toolSources: ToolSources
  }
}

export const toolSourcesPlugin = fp<{ tools?: Tool[] | undefined }>(
  async (app, options) => {
    app.decorate('toolSources', await ToolSources.load(app.config, { log: app.log, tools: options.tools }))
    app.addHook('onClose', async () => {
      await app.toolSources.close()
    })
  },
  { name: 'toolgate-tool-sources', fastify: '5.x', dependencies: ['toolgate-config'] },
)
