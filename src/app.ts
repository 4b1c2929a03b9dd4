import { join } from 'node:path'
import autoload from '@fastify/autoload'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Config } from './config/env.ts'
import { accessControl } from './http/access-control.ts'
import { closingBehaviour } from './http/closing.ts'
import { acceptContentTypes } from './http/content-types.ts'
import { createErrorHandler, notFound } from './http/error-handler.ts'
import { openapiDocument } from './http/openapi.ts'
import { overloadProtection } from './http/overload.ts'
import { approvalsPlugin } from './http/plugins/approvals.ts'
import { configPlugin } from './http/plugins/config.ts'
import { executionsPlugin } from './http/plugins/executions.ts'
import { executorPlugin } from './http/plugins/executor.ts'
import { keyRingPlugin } from './http/plugins/key-ring.ts'
import { mcpServerPlugin } from './http/plugins/mcp-server.ts'
import { observabilityPlugin } from './http/plugins/observability.ts'
import { redisPlugin } from './http/plugins/redis.ts'
import { reloadPlugin } from './http/plugins/reload.ts'
import { toolSourcesPlugin } from './http/plugins/tool-sources.ts'
import { rateLimits } from './http/rate-limit.ts'
import { requestIdHeader } from './http/request-id.ts'
import { serializerCompiler } from './http/serializer-compiler.ts'
import { serverOptions } from './http/server-options.ts'
import { validatorCompiler } from './http/validator-compiler.ts'
import { createLogger, type StdoutLogger } from './observability/logger.ts'
import type { Tool } from './tools/tool.ts'

export interface AppOptions {
  /** The tools to serve. @default the built-in ones and those of TOOLGATE_CONFIG's file */
  tools?: Tool[]
  /** A pino logger to use instead of one writing JSON to stdout at `config.logLevel`. */
  logger?: FastifyBaseLogger
  /** Source of backoff jitter in [0, 1); tests pin it. @default Math.random */
  random?: () => number
  /** Where the JSON lines go when no `logger` is given: stderr when stdout carries a protocol (MCP over stdio). @default 'stdout' */
  logStream?: 'stdout' | 'stderr'
}

/** The route plugins, found by the folder they are in: src/ names none of them. */
const routesFolder = join(import.meta.dirname, '..', 'routes')

/**
 * The composition root: builds the gateway from its parts without listening (the entry point
 * listens; tests inject, or listen on port 0). Each part is a plugin that declares its decorators
 * and what it depends on; the order below is the order of the hooks every request meets.
 */
export async function buildApp(config: Config, options: AppOptions = {}) {
  let stdout: StdoutLogger | undefined
  const logger = options.logger ?? (stdout = createLogger(config, options.logStream)).logger
  const app = Fastify(serverOptions(config, logger)).withTypeProvider<ZodTypeProvider>()
  if (stdout !== undefined) {
    // Buffered lines: "Server listening at" is written at once, not with the next 64 KiB; closing flushes.
    app.addHook('onListen', (done) => {
      stdout.flush()
      done()
    })
    app.addHook('onClose', (_app, done) => {
      stdout.close()
      done()
    })
  }
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.setErrorHandler(createErrorHandler(config))
  app.setNotFoundHandler(notFound)
  acceptContentTypes(app)

  // The parts: configuration, what observes the gateway, keys, tools, the executor running them,
  // reloading. They close in the reverse order: calls cancelled, MCP servers closed, spans exported.
  await app.register(configPlugin, { config })
  await app.register(observabilityPlugin)
  await app.register(redisPlugin)
  await app.register(keyRingPlugin)
  await app.register(toolSourcesPlugin, { tools: options.tools })
  await app.register(executorPlugin, { random: options.random })
  await app.register(executionsPlugin)
  await app.register(approvalsPlugin)
  await app.register(mcpServerPlugin)
  await app.register(reloadPlugin)

  // The hooks, in the order a request meets them: its id first, so that every reply carries it.
  await app.register(requestIdHeader)
  await app.register(accessControl)
  await app.register(overloadProtection)
  await app.register(rateLimits)
  await app.register(closingBehaviour)

  await app.register(openapiDocument)
  await app.register(autoload, { dir: routesFolder, forceESM: true })
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
