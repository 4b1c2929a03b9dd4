import fp from 'fastify-plugin'
import { executorOptionsOf } from '../../batch/executor-options.ts'
import { Executor } from '../../batch/executor.ts'
import type { ToolRegistry } from '../../tools/registry.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Runs the batches through the bounded queue. */
    executor: Executor
    /** The tools in service now (a reload or an MCP server's change replaces them). */
    registry: ToolRegistry
  }
}

export const executorPlugin = fp<{ random?: (() => number) | undefined }>(
  (app, options, done) => {
    const { config, toolSources } = app
    const executor = new Executor(toolSources.registry, executorOptionsOf(config, options.random))
    toolSources.subscribe((registry) => {
      executor.replaceRegistry(registry)
    })
    app.decorate('executor', executor)
    app.decorate('registry', { getter: () => executor.registry })
    // onClose hooks run in the reverse order of registration: calls are cancelled before their MCP servers close.
    app.addHook('onClose', (_app, next) => {
      executor.cancelAll()
      next()
    })
    done()
  },
  { name: 'toolgate-executor', fastify: '5.x', dependencies: ['toolgate-config', 'toolgate-tool-sources'] },
)
