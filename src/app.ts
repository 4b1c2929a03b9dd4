import { randomUUID } from 'node:crypto'
import fastifySwagger from '@fastify/swagger'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { pino } from 'pino'
import packageJson from '../package.json' with { type: 'json' }
import { adminRoutes } from '../routes/admin.ts'
import { executeRoutes } from '../routes/execute.ts'
import { healthRoutes } from '../routes/health.ts'
import { metricsRoutes } from '../routes/metrics.ts'
import { openapiRoutes } from '../routes/openapi.ts'
import { toolsRoutes } from '../routes/tools.ts'
import type { Config } from './config/env.ts'
import { Executor } from './batch/executor.ts'
import { Metrics } from './observability/metrics.ts'
import { addAccessControl } from './http/access-control.ts'
import { createClientErrorHandler } from './http/client-error.ts'
import { addClosingBehaviour } from './http/closing.ts'
import { createErrorHandler } from './http/error-handler.ts'
import { addOverloadProtection } from './http/overload.ts'
import { addRateLimits } from './http/rate-limit.ts'
import { loadApiKeys } from './access/api-keys.ts'
import { startTracing, type Tracing } from './observability/tracing.ts'
import { validatorCompiler } from './http/validator-compiler.ts'
import { ToolRegistry } from './tools/registry.ts'
import type { Tool } from './tools/tool.ts'
import type { McpServerTools } from './tools/mcp/mcp-server-tools.ts'
import { currentTools, loadToolSources, type ToolSources } from './tools/tool-sources.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    registry: ToolRegistry
    executor: Executor
    metrics: Metrics
    /**
     * Rereads TOOLGATE_CONFIG and TOOLGATE_API_KEYS_FILE and puts their tools and keys in service;
     * throws, keeping the old ones, if either is invalid.
     */
    reloadTools: () => Promise<string[]>
    /** Turns readiness false and refuses new work (503 shutting_down); app.close() does it too. */
    stopTakingWork: () => void
    /** Spans for batches and calls, when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
    tracing: Tracing | undefined
    /** The MCP servers of the configuration, and whether each is connected. */
    mcpServers: Array<{ name: string; connected: boolean }>
  }
}

export interface AppOptions {
  /** The tools to serve. @default the built-in ones and those of TOOLGATE_CONFIG's file */
  tools?: Tool[]
  /** A pino logger to use instead of one writing JSON to stdout at `config.logLevel`. */
  logger?: FastifyBaseLogger
  /** Source of backoff jitter in [0, 1); tests pin it. @default Math.random */
  random?: () => number
}

/** Builds the gateway without listening: the entry point listens, tests inject or listen on port 0. */
export async function buildApp(config: Config, options: AppOptions = {}) {
  const logger = options.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization'] })
  const apiKeys = await loadApiKeys(config)
  const tracing = await startTracing({ endpoint: config.otlpEndpoint, serviceName: config.serviceName, version: packageJson.version })
  // MCP servers may change their tools at any time: the registry is then rebuilt from the sources.
  const toolsChanged = () => {
    try {
      executor.replaceRegistry(new ToolRegistry(currentTools(sources)))
    } catch (error) {
      logger.error({ err: error }, 'the changed tools were refused; the tools in service are unchanged')
    }
  }
  let sources: ToolSources = options.tools ? { fixed: options.tools, mcp: [] } : await loadToolSources(config, { log: logger, onToolsChanged: toolsChanged })
  const registry = new ToolRegistry(currentTools(sources))
  const executor: Executor = new Executor(registry, {
    ...config,
    ...(options.random ? { random: options.random } : {}),
    onCallAnswered: (result) => {
      metrics.callAnswered(result)
    },
  })
  const metrics = new Metrics(() => executor.stats)

  const app = Fastify({
    loggerInstance: logger,
    return503OnClosing: false,
    bodyLimit: config.maxBodyBytes,
    // Node's defaults leave slow clients alone: no request timeout, and the timeouts it has are
    // only checked every 30 s. A client dripping its headers or body is cut within a second of its
    // limit. The idle time while the calls run is not limited: that is the calls' deadlines' job.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: { headersTimeout: config.headersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs) },
    clientErrorHandler: createClientErrorHandler(config),
    // A client's x-request-id is kept when it is a sane token, so its logs and ours line up.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID()
    },
  }).withTypeProvider<ZodTypeProvider>()

  app.decorate('config', config)
  app.decorate('registry', {
    getter: () => executor.registry,
  })
  app.decorate('executor', executor)
  app.decorate('metrics', metrics)
  app.decorate('tracing', tracing)
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpAnswered(request.routeOptions.url ?? 'unmatched', reply.statusCode)
    done()
  })
  app.decorate('reloadTools', async () => {
    // The keys first: a bad keys file refuses the reload before any MCP server is started.
    const nextKeys = config.apiKeysFile === undefined ? undefined : await loadApiKeys(config)
    const next = await loadToolSources(config, { log: logger, onToolsChanged: toolsChanged })
    let reloaded: ToolRegistry
    try {
      reloaded = new ToolRegistry(currentTools(next))
    } catch (error) {
      await Promise.all(next.mcp.map((server) => server.close()))
      throw error
    }
    const previous = sources
    sources = next
    executor.replaceRegistry(reloaded)
    if (nextKeys) replaceKeys(nextKeys)
    // Calls in flight finish on the old definitions, MCP ones too: the old servers stay connected
    // until the longest deadline has passed.
    retire(previous.mcp)
    app.log.info({ tools: reloaded.names }, 'tools reloaded')
    return reloaded.names
  })
  app.decorate('mcpServers', {
    getter: () => sources.mcp.map((server) => ({ name: server.name, connected: server.connected })),
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.setErrorHandler(createErrorHandler(config))
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: 'No such route; see GET /openapi.json.' } }),
  )
  const replaceKeys = addAccessControl(app, { apiKeys, allowedOrigins: config.allowedOrigins, metricsWithoutKey: config.metricsWithoutKey })
  await addOverloadProtection(app, config)
  await addRateLimits(app, { rateLimitPerMinute: config.rateLimitPerMinute, apiKeys, apiKeysFile: config.apiKeysFile })
  app.removeContentTypeParser('text/plain')
  // A streamed Chat Completions response may be handed over as the raw event stream it was.
  app.addContentTypeParser('text/event-stream', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body)
  })
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id)
    done()
  })
  app.decorate('stopTakingWork', addClosingBehaviour(app))
  const retiring = new Set<McpServerTools>()
  const retire = (servers: McpServerTools[]) => {
    const longestMs = Math.max(config.callTimeoutMs, ...currentTools({ fixed: [], mcp: servers }).map((tool) => tool.timeoutMs ?? 0))
    for (const server of servers) {
      retiring.add(server)
      setTimeout(() => {
        retiring.delete(server)
        void server.close()
      }, longestMs).unref()
    }
  }
  app.addHook('onClose', async () => {
    executor.cancelAll()
    await Promise.all([...sources.mcp, ...retiring].map((server) => server.close()))
    await tracing?.shutdown()
  })

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'toolgate',
        version: packageJson.version,
        description:
          "Runs a model response's parallel tool calls and answers with the tool messages, in the calls' order, with the model's ids.",
      },
    },
    transform: jsonSchemaTransform,
  })
  await app.register(executeRoutes)
  await app.register(toolsRoutes)
  await app.register(healthRoutes)
  await app.register(openapiRoutes)
  await app.register(metricsRoutes)
  if (config.adminKey !== undefined) await app.register(adminRoutes, { adminKey: config.adminKey })
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
