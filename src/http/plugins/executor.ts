import fp from 'fastify-plugin'
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
    const executor = new Executor(toolSources.registry, {
      concurrency: config.concurrency,
      maxQueuedCalls: config.maxQueuedCalls,
      maxCallsPerRequest: config.maxCallsPerRequest,
      callTimeoutMs: config.callTimeoutMs,
      retryBaseDelayMs: config.retryBaseDelayMs,
      retryMaxDelayMs: config.retryMaxDelayMs,
      maxArgumentBytes: config.maxArgumentBytes,
      maxArgumentDepth: config.maxArgumentDepth,
      maxResultBytes: config.maxResultBytes,
      maxAbandonedCalls: config.maxAbandonedCalls,
      ...(options.random ? { random: options.random } : {}),
    })
    toolSources.subscribe((registry) => {
      executor.replaceRegistry(registry)
    })
    app.decorate('executor', executor)
    app.decorate('registry', { getter: () => executor.registry })
    // Registered after the tool sources' hook, so it runs before it: calls are cancelled before their MCP servers close.
    app.addHook('onClose', (_app, next) => {
      executor.cancelAll()
      next()
    })
    done()
  },
  { name: 'toolgate-executor', fastify: '5.x', dependencies: ['toolgate-config', 'toolgate-tool-sources'] },
)
