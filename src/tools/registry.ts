import { z } from 'zod'
import { toolNamePattern, toolNameRule } from '../limits.ts'
import { ToolDefinitionError, type Tool, type ToolDescription } from './tool.ts'

/** The tools a gateway can run, by name. Names are looked up in a Map: `__proto__` is just an unknown name. */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>()
  readonly #descriptions: ToolDescription[]

  /** Throws a ToolDefinitionError for a tool with a bad name, a name taken twice, a bad limit or a non-object schema. */
  constructor(tools: Iterable<Tool>) {
    for (const tool of tools) {
      if (!toolNamePattern.test(tool.name)) throw new ToolDefinitionError(`Tool name ${JSON.stringify(tool.name)} ${toolNameRule}`)
      if (this.#tools.has(tool.name)) throw new ToolDefinitionError(`Tool name "${tool.name}" is registered twice`)
      checkLimits(tool)
      this.#tools.set(tool.name, tool)
    }
    this.#descriptions = [...this.#tools.values()].map(describe)
  }

  get(name: string): Tool | undefined {
    return this.#tools.get(name)
  }

  get tools(): Tool[] {
    return [...this.#tools.values()]
  }

  get names(): string[] {
    return [...this.#tools.keys()]
  }

  get size(): number {
    return this.#tools.size
  }

  /** Name, description and JSON Schema of every tool (or of those in `only`): what a provider's declarations are made from. */
  descriptions(only?: ReadonlySet<string>): readonly ToolDescription[] {
    // A key limited to some tools sees those only; its view is small and made on each request.
    return only === undefined ? this.#descriptions : this.#descriptions.filter((description) => only.has(description.name))
  }
}

function checkLimits(tool: Tool): void {
  const positive = { timeoutMs: tool.timeoutMs, attemptTimeoutMs: tool.attemptTimeoutMs, concurrency: tool.concurrency }
  for (const [option, value] of Object.entries(positive)) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new ToolDefinitionError(`Tool "${tool.name}": ${option} must be a positive integer, got ${String(value)}`)
    }
  }
  if (tool.retries !== undefined && !(Number.isInteger(tool.retries) && tool.retries >= 0)) {
    throw new ToolDefinitionError(`Tool "${tool.name}": retries must be a non-negative integer, got ${String(tool.retries)}`)
  }
}

function describe(tool: Tool): ToolDescription {
  const { $schema: _dialect, ...parameters } = tool.parameters ?? z.toJSONSchema(tool.inputSchema, { io: 'input' })
  if (parameters.type !== 'object') {
    throw new ToolDefinitionError(`Tool "${tool.name}": inputSchema must be an object schema, got ${String(parameters.type)}`)
  }
  return { name: tool.name, description: tool.description, parameters }
}
