import { Client as ModernClient, StreamableHTTPClientTransport as ModernHttpTransport } from '@modelcontextprotocol/client'
import { StdioClientTransport as ModernStdioTransport } from '@modelcontextprotocol/client/stdio'
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport as LegacyStdioTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { TestContext } from 'node:test'

/** The MCP protocol eras toolgate serves: 2026-07-28 (the v2 SDK, stateless) and 2025-11-25 (the v1 SDK, a session). */
export const eras = ['2026-07-28', '2025-11-25'] as const
export type Era = (typeof eras)[number]

export interface ToolResult {
  content: Array<{ type: string; text?: string; data?: string; mimeType?: string }>
  structuredContent?: Record<string, unknown>
  isError?: boolean
}

export interface CallOptions {
  signal?: AbortSignal
  onprogress?: (progress: { progress: number; message?: string }) => void
  meta?: Record<string, unknown>
}

/** The official client of one era, behind the few methods the tests use. */
export interface McpTestClient {
  era: Era
  listTools(): Promise<Array<{ name: string; inputSchema: unknown; annotations?: Record<string, unknown> }>>
  callTool(name: string, args: Record<string, unknown>, options?: CallOptions): Promise<ToolResult>
  close(): Promise<void>
}

function wrap(era: Era, client: ModernClient | LegacyClient): McpTestClient {
  return {
    era,
    listTools: async () => (await client.listTools()).tools,
    callTool: async (name, args, options = {}) => {
      const params = { name, arguments: args, ...(options.meta ? { _meta: options.meta } : {}) }
      const requestOptions = { signal: options.signal, onprogress: options.onprogress, timeout: 30_000 }
      const result =
        client instanceof ModernClient
          ? await client.callTool(params, requestOptions)
          : await client.callTool(params, undefined, requestOptions)
      return result as ToolResult
    },
    close: () => client.close(),
  }
}

/** A client of `era` connected to toolgate's /mcp at `url`, closed when the test ends. */
export async function connectHttp(t: TestContext, url: string, era: Era, headers: Record<string, string> = {}): Promise<McpTestClient> {
  const endpoint = new URL('/mcp', url)
  const requestInit = { headers }
  let client: McpTestClient
  if (era === '2026-07-28') {
    const modern = new ModernClient({ name: 'toolgate-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: era } } })
    await modern.connect(new ModernHttpTransport(endpoint, { requestInit }))
    client = wrap(era, modern)
  } else {
    const legacy = new LegacyClient({ name: 'toolgate-test', version: '1.0.0' })
    await legacy.connect(new LegacyHttpTransport(endpoint, { requestInit }))
    client = wrap(era, legacy)
  }
  t.after(() => client.close())
  return client
}

/** A client of `era` that starts `command` and speaks to it over stdio, closed when the test ends. */
export async function connectStdio(
  t: TestContext,
  era: Era,
  server: { command: string; args: string[]; env: Record<string, string>; cwd?: string },
): Promise<McpTestClient> {
  let client: McpTestClient
  if (era === '2026-07-28') {
    const modern = new ModernClient({ name: 'toolgate-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: era } } })
    await modern.connect(new ModernStdioTransport({ ...server, stderr: 'pipe' }))
    client = wrap(era, modern)
  } else {
    const legacy = new LegacyClient({ name: 'toolgate-test', version: '1.0.0' })
    await legacy.connect(new LegacyStdioTransport({ ...server, stderr: 'pipe' }))
    client = wrap(era, legacy)
  }
  t.after(() => client.close())
  return client
}

/** The `{"error":{"code","message"}}` of an isError result. */
export function errorOf(result: ToolResult): { code: string; message: string } | undefined {
  if (result.isError !== true) return undefined
  return (JSON.parse(result.content[0]?.text ?? '{}') as { error: { code: string; message: string } }).error
}
