import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Rereads TOOLGATE_CONFIG and TOOLGATE_API_KEYS_FILE and puts their tools and keys in service;
     * throws, keeping the old ones, if either is invalid.
     */
    reloadTools: () => Promise<string[]>
  }
}

export const reloadPlugin = fp(
  (app, _options, done) => {
    app.decorate('reloadTools', async () => {
      // The keys first: a bad keys file refuses the reload before any MCP server is started.
      const useNextKeys = await app.keyRing.prepareReload()
      const registry = await app.toolSources.reload()
      useNextKeys()
      app.log.info({ tools: registry.names }, 'tools reloaded')
      return registry.names
    })
    done()
  },
  { name: 'toolgate-reload', fastify: '5.x', dependencies: ['toolgate-key-ring', 'toolgate-tool-sources'] },
)
