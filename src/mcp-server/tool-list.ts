import type { Tool as McpTool, ToolAnnotations } from '@modelcontextprotocol/server'
import type { ToolRegistry } from '../tools/registry.ts'
import { sideEffectsOf, type Tool } from '../tools/tool.ts'

/**
 * The tools a caller may call, as MCP's tools/list shows them: the names GET /tools gives (MCP
 * servers' tools as `<server>__<tool>`), their JSON Schemas, and what toolgate knows of their side
 * effects as annotations.
 */
export function listTools(registry: ToolRegistry, allowed: ReadonlySet<string> | undefined): McpTool[] {
  return registry.descriptions(allowed).map((description) => {
    const tool = registry.get(description.name)
    return {
      name: description.name,
      description: description.description,
      inputSchema: { ...description.parameters, type: 'object' },
      ...(tool === undefined ? {} : { annotations: annotationsOf(tool) }),
    }
  })
}

/** The side-effect flags toolgate runs a tool by, as MCP's hints. */
function annotationsOf(tool: Tool): ToolAnnotations {
  const { readOnly, idempotent, destructive } = sideEffectsOf(tool)
  // MCP reads destructiveHint only of a tool that is not read-only.
  return { readOnlyHint: readOnly, idempotentHint: idempotent, ...(readOnly ? {} : { destructiveHint: destructive }) }
}
