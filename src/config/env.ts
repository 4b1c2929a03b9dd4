import { z } from 'zod'

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max)

/** The fewest characters of an API key or the admin key, wherever it is given (TOOLGATE_API_KEYS, a keys file, TOOLGATE_ADMIN_KEY). */
export const minKeyChars = 16
export const keyLengthRule = `use at least ${String(minKeyChars)} characters`
/** The fewest characters of an approval secret (TOOLGATE_APPROVAL_SECRETS): an HMAC key an attacker must not guess. */
export const minApprovalSecretChars = 32

/**
 * Every environment variable toolgate reads: its type, default and meaning.
 * This is the one place a limit or default is named; the README's configuration table mirrors it
 * (a test keeps the two in step).
 */
export const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1').describe('Address the HTTP server listens on.'),
  PORT: integer(0, 65_535).default(8080).describe('TCP port the HTTP server listens on (0 picks a free one).'),
  TOOLGATE_HEALTH_PORT: integer(0, 65_535)
    .optional()
    .describe(
      'A second port serving only GET /healthz and /readyz, for HTTP probes when HOST is loopback (a sidecar); unset: none, probes use PORT.',
    ),
  TOOLGATE_HEALTH_HOST: z.string().min(1).default('0.0.0.0').describe('Address of the TOOLGATE_HEALTH_PORT listener.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level. Tool arguments and results are never logged.'),
  TOOLGATE_CONCURRENCY: integer(1, 100_000).default(64).describe('Calls running at once across all requests (tools are mostly I/O-bound).'),
  TOOLGATE_MAX_QUEUED_CALLS: integer(0, 1_000_000)
    .default(1024)
    .describe('Calls that may wait for a running slot; a request that would exceed it gets 503 with Retry-After.'),
  TOOLGATE_MAX_CALLS_PER_REQUEST: integer(1, 10_000).default(128).describe('Tool calls accepted in one payload; more is a 400.'),
  TOOLGATE_CALL_TIMEOUT_MS: integer(1, 3_600_000)
    .default(30_000)
    .describe(
      'Deadline of a call, retries included, for tools that set no timeoutMs of their own (configured HTTP and MCP tools without one, tools of your own); the built-in tools set theirs (see Built-in tools).',
    ),
  TOOLGATE_RETRY_BASE_DELAY_MS: integer(0, 60_000)
    .default(100)
    .describe('First backoff step before a retry; doubles each attempt, with full jitter.'),
  TOOLGATE_RETRY_MAX_DELAY_MS: integer(0, 600_000).default(2_000).describe('Upper bound of one backoff delay.'),
  TOOLGATE_MAX_BODY_BYTES: integer(1, 1_073_741_824)
    .default(4 * 1024 * 1024)
    .describe('Largest request body accepted; larger is a 413.'),
  TOOLGATE_MAX_ARGUMENT_BYTES: integer(2, 1_073_741_824)
    .default(256 * 1024)
    .describe("Largest arguments of one call (UTF-8 bytes of its JSON); larger is that call's invalid_arguments."),
  TOOLGATE_MAX_ARGUMENT_DEPTH: integer(1, 1_000)
    .default(32)
    .describe("Deepest nesting of objects and arrays in one call's arguments; deeper is invalid_arguments."),
  TOOLGATE_MAX_RESULT_BYTES: integer(256, 1_073_741_824)
    .default(1024 * 1024)
    .describe(
      "Largest result a model reads (UTF-8 bytes of its content); a longer one is cut, marked in the content and in the result's truncatedFromBytes.",
    ),
  TOOLGATE_MAX_ABANDONED_CALLS: integer(1, 1_000_000)
    .default(256)
    .describe('Timed-out or cancelled calls whose tools ignored the abort and still run; at this many, new batches get 503 overloaded.'),
  TOOLGATE_HEADERS_TIMEOUT_MS: integer(100, 600_000)
    .default(10_000)
    .describe('Time a client has to send the request headers; slower gets 408 and the connection is closed.'),
  TOOLGATE_REQUEST_TIMEOUT_MS: integer(100, 3_600_000)
    .default(30_000)
    .describe(
      'Time a client has to send the whole request, body included (a slow drip is cut); slower gets 408. Running the calls is not counted.',
    ),
  TOOLGATE_KEEP_ALIVE_TIMEOUT_MS: integer(100, 3_600_000)
    .default(5_000)
    .describe('An idle keep-alive connection is closed after this long without a request.'),
  TOOLGATE_MAX_EVENT_LOOP_DELAY_MS: integer(0, 60_000)
    .default(250)
    .describe('Mean event-loop delay (sampled every 500 ms) past which new requests get 503 overloaded; 0 turns the check off.'),
  TOOLGATE_MAX_HEAP_USED_PERCENT: integer(0, 100)
    .default(90)
    .describe("Heap in use, as a percentage of V8's heap limit, past which new requests get 503 overloaded; 0 turns the check off."),
  TOOLGATE_MAX_RSS_BYTES: integer(0, Number.MAX_SAFE_INTEGER)
    .default(0)
    .describe(
      "Resident memory past which new requests get 503 overloaded (set it below the container's memory limit); 0 turns the check off.",
    ),
  TOOLGATE_SHUTDOWN_GRACE_MS: integer(0, 3_600_000)
    .default(10_000)
    .describe('On SIGTERM/SIGINT, how long batches in flight may run before they are answered as cancelled.'),
  TOOLGATE_CONFIG: z
    .string()
    .optional()
    .describe('Path of a JSON or YAML file declaring HTTP tools and changes to the built-in ones (unset: built-in tools only).'),
  TOOLGATE_API_KEYS: z
    .string()
    .superRefine((value, context) => {
      // Each short key by its place in the list, never by its value: the message is printed.
      const keys = list(value)
      // Set but holding no key (",", spaces) would leave the gateway open while its operator meant to close it.
      if (keys.length === 0) context.addIssue({ code: 'custom', message: 'holds no key; unset it to run without keys' })
      keys.forEach((key, index) => {
        if (key.length < minKeyChars) {
          context.addIssue({ code: 'custom', message: `key ${String(index + 1)} of ${String(keys.length)} is too short; ${keyLengthRule}` })
        }
      })
    })
    .optional()
    .describe(
      `Comma-separated API keys, each of at least ${String(minKeyChars)} characters; when set, every route but /healthz and /readyz wants Authorization: Bearer <one of them>.`,
    ),
  TOOLGATE_API_KEYS_FILE: z
    .string()
    .optional()
    .describe(
      'Path of a JSON or YAML file of named API keys, each optionally limited to some tools and given its own rate limit; adds to TOOLGATE_API_KEYS.',
    ),
  TOOLGATE_RATE_LIMIT_PER_MINUTE: integer(0, 100_000_000)
    .default(0)
    .describe(
      'Requests per minute per API key (per client address without keys), health checks and metrics aside; past it, 429 with Retry-After. 0: no limit.',
    ),
  TOOLGATE_RATE_LIMIT_TRACKED_CALLERS: integer(100, 10_000_000)
    .default(10_000)
    .describe(
      'Callers (keys, or client addresses without keys) whose request counts the rate limiter keeps; the least recently seen is forgotten and starts again from 0.',
    ),
  TOOLGATE_METRICS_WITHOUT_KEY: z
    .stringbool()
    .default(false)
    .describe('true: GET /metrics answers without an API key (for a scraper that cannot send one), like /healthz and /readyz.'),
  TOOLGATE_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .describe('Comma-separated browser origins allowed to call toolgate; a request with another Origin header gets 403.'),
  TOOLGATE_ADMIN_KEY: z
    .string()
    .min(minKeyChars, keyLengthRule)
    .optional()
    .describe('Enables POST /admin/reload for requests bearing it (Authorization: Bearer ...); unset: no admin route.'),
  TOOLGATE_APPROVAL_SECRETS: z
    .string()
    .superRefine((value, context) => {
      const secrets = list(value)
      if (secrets.length === 0) context.addIssue({ code: 'custom', message: 'holds no secret; unset it to run without approvals' })
      secrets.forEach((secret, index) => {
        if (secret.length < minApprovalSecretChars) {
          context.addIssue({
            code: 'custom',
            message: `secret ${String(index + 1)} of ${String(secrets.length)} is too short; use at least ${String(minApprovalSecretChars)} characters`,
          })
        }
      })
    })
    .optional()
    .describe(
      `Comma-separated HMAC secrets (each of at least ${String(minApprovalSecretChars)} characters) that enable approvals: the first signs approval tokens, every one verifies them (rotation). Unset: approvals off; a call that requires one answers approval_unavailable.`,
    ),
  TOOLGATE_APPROVAL_TTL_SECONDS: integer(1, 30 * 86_400)
    .default(3_600)
    .describe('How long an approval token (a call held for a human decision) stays valid after it was issued.'),
  TOOLGATE_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe(
      'Redis or Valkey (redis://[user:password@]host:port[/db]) holding the state replicas share: idempotency records, call outcomes, late results and rate-limit counts. Unset: all of it in memory, per process.',
    ),
  TOOLGATE_REDIS_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .default('toolgate:')
    .describe('Prefix of every Redis key toolgate writes, so that several deployments can share one Redis.'),
  TOOLGATE_REDIS_DOWN_POLICY: z
    .enum(['run', 'refuse'])
    .default('run')
    .describe(
      'What a request without Idempotency-Key gets while Redis is unreachable: run (its calls run, rate limits are not counted) or refuse (503 state_unavailable). Keyed requests are always refused then.',
    ),
  TOOLGATE_IDEMPOTENCY_TTL_SECONDS: integer(1, 30 * 86_400)
    .default(86_400)
    .describe("How long an Idempotency-Key, its calls' outcomes and a deferred batch are kept after the batch started."),
  TOOLGATE_REPLICA_LEASE_MS: integer(200, 600_000)
    .default(10_000)
    .describe(
      'A replica renews its lease every third of this; a call whose replica let it lapse (it died) is outcome_unknown to a retry, or runs again if its tool is idempotent.',
    ),
  TOOLGATE_MAX_WAIT_SECONDS: integer(1, 3_600)
    .default(300)
    .describe('The longest Prefer: wait=<seconds> honoured; a request that joins a running keyed batch waits at most this too.'),
  TOOLGATE_STATE_MAX_ENTRIES: integer(10, 100_000_000)
    .default(10_000)
    .describe('Batches the in-memory state keeps (idempotency records and deferred batches); the oldest is forgotten first.'),
  TOOLGATE_STATE_MAX_BYTES: integer(1_024, Number.MAX_SAFE_INTEGER)
    .default(64 * 1024 * 1024)
    .describe('Bytes of call results the in-memory state keeps, all batches together; past it, the oldest batches are forgotten.'),
  TOOLGATE_MCP_MAX_SESSIONS: integer(1, 1_000_000)
    .default(1_000)
    .describe(
      'MCP sessions (protocol revisions of 2025, which open one) /mcp keeps at once; past it, the one idle longest is closed. The 2026-07-28 revision keeps none.',
    ),
  TOOLGATE_MCP_STDIO_KEY: z
    .string()
    .optional()
    .describe(
      'For `toolgate mcp-stdio` with API keys configured: the key (one of TOOLGATE_API_KEYS or the keys file) whose tools the MCP client that started the process may call.',
    ),
  TOOLGATE_MCP_SESSION_IDLE_SECONDS: integer(1, 86_400)
    .default(600)
    .describe('An MCP session nobody used for this long is closed; its client opens a new one.'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url()
    .optional()
    .describe(
      'OTLP/HTTP collector (e.g. http://localhost:4318); when set, a span per batch and per call is exported to its /v1/traces, under the W3C traceparent of the request. Unset: no tracing, nothing loaded.',
    ),
  OTEL_SERVICE_NAME: z.string().min(1).default('toolgate').describe('service.name of the exported spans.'),
  OPEN_METEO_GEOCODING_URL: z
    .url()
    .default('https://geocoding-api.open-meteo.com')
    .describe('Base URL of the geocoding API get_weather uses (it appends /v1/search).'),
  OPEN_METEO_FORECAST_URL: z
    .url()
    .default('https://api.open-meteo.com')
    .describe('Base URL of the forecast API get_weather uses (it appends /v1/forecast).'),
})

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

/** The validated configuration, with the units in the names. */
export const configSchema = envSchema
  .refine((env) => env.TOOLGATE_HEADERS_TIMEOUT_MS <= env.TOOLGATE_REQUEST_TIMEOUT_MS, {
    path: ['TOOLGATE_HEADERS_TIMEOUT_MS'],
    message: 'must not exceed TOOLGATE_REQUEST_TIMEOUT_MS (the headers are part of the request)',
  })
  .transform((env) => ({
    host: env.HOST,
    port: env.PORT,
    healthPort: env.TOOLGATE_HEALTH_PORT,
    healthHost: env.TOOLGATE_HEALTH_HOST,
    logLevel: env.LOG_LEVEL,
    concurrency: env.TOOLGATE_CONCURRENCY,
    maxQueuedCalls: env.TOOLGATE_MAX_QUEUED_CALLS,
    maxCallsPerRequest: env.TOOLGATE_MAX_CALLS_PER_REQUEST,
    callTimeoutMs: env.TOOLGATE_CALL_TIMEOUT_MS,
    retryBaseDelayMs: env.TOOLGATE_RETRY_BASE_DELAY_MS,
    retryMaxDelayMs: env.TOOLGATE_RETRY_MAX_DELAY_MS,
    maxBodyBytes: env.TOOLGATE_MAX_BODY_BYTES,
    maxArgumentBytes: env.TOOLGATE_MAX_ARGUMENT_BYTES,
    maxArgumentDepth: env.TOOLGATE_MAX_ARGUMENT_DEPTH,
    maxResultBytes: env.TOOLGATE_MAX_RESULT_BYTES,
    maxAbandonedCalls: env.TOOLGATE_MAX_ABANDONED_CALLS,
    headersTimeoutMs: env.TOOLGATE_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: env.TOOLGATE_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: env.TOOLGATE_KEEP_ALIVE_TIMEOUT_MS,
    maxEventLoopDelayMs: env.TOOLGATE_MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedPercent: env.TOOLGATE_MAX_HEAP_USED_PERCENT,
    maxRssBytes: env.TOOLGATE_MAX_RSS_BYTES,
    shutdownGraceMs: env.TOOLGATE_SHUTDOWN_GRACE_MS,
    configFile: env.TOOLGATE_CONFIG,
    adminKey: env.TOOLGATE_ADMIN_KEY,
    approvalSecrets: list(env.TOOLGATE_APPROVAL_SECRETS),
    approvalTtlSeconds: env.TOOLGATE_APPROVAL_TTL_SECONDS,
    apiKeys: list(env.TOOLGATE_API_KEYS),
    apiKeysFile: env.TOOLGATE_API_KEYS_FILE,
    rateLimitPerMinute: env.TOOLGATE_RATE_LIMIT_PER_MINUTE,
    rateLimitTrackedCallers: env.TOOLGATE_RATE_LIMIT_TRACKED_CALLERS,
    allowedOrigins: list(env.TOOLGATE_ALLOWED_ORIGINS),
    metricsWithoutKey: env.TOOLGATE_METRICS_WITHOUT_KEY,
    redisUrl: env.TOOLGATE_REDIS_URL,
    redisPrefix: env.TOOLGATE_REDIS_PREFIX,
    redisDownPolicy: env.TOOLGATE_REDIS_DOWN_POLICY,
    idempotencyTtlSeconds: env.TOOLGATE_IDEMPOTENCY_TTL_SECONDS,
    replicaLeaseMs: env.TOOLGATE_REPLICA_LEASE_MS,
    maxWaitSeconds: env.TOOLGATE_MAX_WAIT_SECONDS,
    stateMaxEntries: env.TOOLGATE_STATE_MAX_ENTRIES,
    stateMaxBytes: env.TOOLGATE_STATE_MAX_BYTES,
    mcpMaxSessions: env.TOOLGATE_MCP_MAX_SESSIONS,
    mcpSessionIdleMs: env.TOOLGATE_MCP_SESSION_IDLE_SECONDS * 1000,
    mcpStdioKey: env.TOOLGATE_MCP_STDIO_KEY,
    otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: env.OTEL_SERVICE_NAME,
    openMeteoGeocodingUrl: env.OPEN_METEO_GEOCODING_URL,
    openMeteoForecastUrl: env.OPEN_METEO_FORECAST_URL,
  }))

export type Config = z.output<typeof configSchema>

/** The variables whose values are secrets: a problem with one names it, never its value. */
const secretVariables = new Set([
  'TOOLGATE_API_KEYS',
  'TOOLGATE_ADMIN_KEY',
  'TOOLGATE_REDIS_URL',
  'TOOLGATE_APPROVAL_SECRETS',
  'TOOLGATE_MCP_STDIO_KEY',
])

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Reads and validates the configuration from the environment.
 * An empty variable counts as unset. Throws a ConfigError naming every bad variable.
 */
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  const present: Record<string, string> = {}
  for (const key of Object.keys(envSchema.shape)) {
    const value = environment[key]
    if (value !== undefined && value !== '') present[key] = value
  }
  const parsed = configSchema.safeParse(present)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0])
      // A secret's value must not reach a terminal or a log, even a wrong one.
      const value = secretVariables.has(variable) ? ' (secret, value not shown)' : `=${JSON.stringify(present[variable])}`
      return `${variable}${value}: ${issue.message}`
    })
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`)
  }
  return parsed.data
}
