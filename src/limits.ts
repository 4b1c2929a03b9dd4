// The fixed limits of the code, each named once with its unit. The limits an operator sets are
// environment variables (src/config/env.ts); these are not worth a setting, but are not magic either.

/** Seconds a refused client is told to wait (Retry-After) when the gateway is full, overloaded or closing. */
export const refusalRetryAfterSeconds = 1

/** Tool names as every provider accepts them. */
export const toolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/
export const toolNameRule = 'must be 1 to 64 letters, digits, "_" or "-"'

/** MCP server names: short, since they prefix their tools' names as `<server>__<tool>`. */
export const mcpServerNamePattern = /^[a-zA-Z0-9_-]{1,30}$/
export const mcpServerNameRule = 'must be 1 to 30 letters, digits, "_" or "-"'

/** The longest an MCP server may take to answer initialize or a page of tools/list (the SDK's own default, made explicit). */
export const mcpRequestTimeoutMs = 60_000
/** The first wait before reconnecting to an MCP server that dropped; it doubles up to the next. */
export const mcpFirstReconnectDelayMs = 500
export const mcpMaxReconnectDelayMs = 30_000
/** How long closing one MCP connection may take (a server that ignores the close) before it is left behind. */
export const mcpCloseTimeoutMs = 5_000

/** Characters of a tool's error message the model reads; a longer one is cut. */
export const maxErrorMessageChars = 2_000
/** Characters of a model-written tool name quoted back in an unknown_tool message. */
export const maxQuotedToolNameChars = 80
/** Characters of a model-written call id in a log line. */
export const maxLoggedIdChars = 128
/** Tools listed in an unknown_tool message; the rest are counted. */
export const maxListedTools = 20
/** Characters of an upstream's refusal body quoted in a tool error. */
export const maxQuotedBodyChars = 300
/** Characters of a redirect's Location quoted in a tool error. */
export const maxQuotedLocationChars = 200
/** Bytes of an upstream's answer an HTTP tool reads, whatever Content-Length claims. */
export const maxUpstreamResponseBytes = 1024 * 1024

/** How often the event-loop delay and memory are sampled for overload protection. */
export const pressureSampleIntervalMs = 500
/** Longest interval between two checks of the connections' header and request timeouts. */
export const connectionsCheckIntervalMs = 1_000
/** Uncaught exceptions and rejections a minute past which the process exits (it is broken for good). */
export const maxUncaughtFailuresPerMinute = 100
/**
 * The longest a Streamable HTTP MCP server may take to answer the ping that checks its session
 * after a failure, and then, if it lost the session, to open a new one (initialize, tools/list).
 */
export const mcpSessionCheckTimeoutMs = 10_000
/** Characters of a request's URL (path and query, which the caller chooses) in its access log line. */
export const maxLoggedUrlChars = 256
/** How often an MCP client that asked for progress (a progressToken) hears that its call still runs. */
export const mcpProgressIntervalMs = 1_000

/** Bytes of an OpenAPI document the tools file names (read from disk or fetched), whatever Content-Length claims. */
export const maxOpenApiDocumentBytes = 4 * 1024 * 1024
/** The longest fetching an OpenAPI document by URL may take, at start-up or at a reload. */
export const openApiFetchTimeoutMs = 10_000
/** The longest resolving the `$ref`s of an OpenAPI document may take. */
export const openApiDereferenceTimeoutMs = 5_000
/** Operations one `openapi:` entry of the tools file may name: the tools made from one document. */
export const maxOpenApiOperations = 100
/**
 * Characters of one OpenAPI tool's arguments schema as JSON (about), a `$ref`'d schema counted each
 * time it is used: a few kilobytes of `$ref`s can otherwise stand for gigabytes of GET /tools.
 */
export const maxOpenApiSchemaChars = 256 * 1024
/** Characters of an OpenAPI tool's description (the operation's summary and description); a longer one is cut. */
export const maxOpenApiDescriptionChars = 4_000
/** Characters of a lane key (its template, or what it computes to); a longer computed key is cut and ends with a hash of the whole. */
export const maxLaneKeyChars = 256
