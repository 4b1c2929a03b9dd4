import type { CallToolResult } from '@modelcontextprotocol/server'
import type { AnsweredCall } from '../batch/call-result.ts'
import { isRecord } from '../providers/provider.ts'

/** What an MCP client reads of a toolgate error: the same code and message a tool message carries. */
export interface ToolErrorContent {
  /** A call's error code, or a refused request's (queue_full, idempotency_key_reused...). */
  error: { code: string; message: string }
}

/**
 * One answered call as an MCP tools/call result: the mapping of the MCP tools toolgate calls, in
 * reverse. Content blocks (an MCP tool's text, images, audio, resources, fitted to the result limit)
 * go back as they are; any other result as one text block of what the model would read, with the
 * value itself as structuredContent when it is a JSON object. A failed call is `isError`, its text
 * the `{"error":{"code","message"}}` a tool message carries, and the same in structuredContent.
 */
export function toCallToolResult(answered: Pick<AnsweredCall, 'result' | 'content' | 'blocks'>): CallToolResult {
  const { result } = answered
  if (!result.ok) return errorResult(result.error?.code ?? 'internal_error', result.error?.message ?? 'the call failed')
  if (answered.blocks !== undefined) {
    const whole = result.output
    const structured = result.truncatedFromBytes === undefined && isRecord(whole) ? whole.structuredContent : undefined
    return {
      content: [...answered.blocks],
      ...(isRecord(structured) ? { structuredContent: structured } : {}),
    }
  }
  const output = result.output
  return {
    content: [{ type: 'text', text: answered.content }],
    ...(result.truncatedFromBytes === undefined && isRecord(output) ? { structuredContent: output } : {}),
  }
}

/** A tools/call answered with an error of toolgate's: a call error, or the refusal of the whole request (queue_full...). */
export function errorResult(code: string, message: string): CallToolResult {
  const error: ToolErrorContent = { error: { code, message } }
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(error) }], structuredContent: { ...error } }
}
