import { z } from 'zod'
import type { Tool } from './tool.ts'
import { declareTools, type DeclarationFormat, type ToolDescription } from '../providers/declarations.ts'

const toolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/

/** The tools a gateway can run, by name. Names are looked up in a Map: `__proto__` is just an unknown name. */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>()
  readonly #descriptions: ToolDescription[]
  readonly #declarations = new Map<DeclarationFormat, ReturnType<typeof declareTools>>()

  constructor(tools: Iterable<Tool>) {
    for (const tool of tools) {
      if (!toolNamePattern.test(tool.name)) {
        throw new TypeError(`Tool name ${JSON.stringify(tool.name)} must be 1 to 64 letters, digits, "_" or "-"`)
      }
      if (this.#tools.has(tool.name)) throw new TypeError(`Tool name "${tool.name}" is registered twice`)
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

  /** The registry as the `tools` parameter of a request to the given provider. @default 'openai' (Chat Completions) */
  declare(format: DeclarationFormat = 'openai', only?: ReadonlySet<string>): ReturnType<typeof declareTools> {
    // A key limited to some tools sees those only; its view is small and made on each request.
    if (only !== undefined) return declareTools(this.#descriptions.filter((description) => only.has(description.name)), format)
    let declarations = this.#declarations.get(format)
    if (declarations === undefined) {
      declarations = declareTools(this.#descriptions, format)
      this.#declarations.set(format, declarations)
    }
    return declarations
  }
}

function checkLimits(tool: Tool): void {
  const positive = { timeoutMs: tool.timeoutMs, attemptTimeoutMs: tool.attemptTimeoutMs, concurrency: tool.concurrency }
  for (const [option, value] of Object.entries(positive)) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`Tool "${tool.name}": ${option} must be a positive integer, got ${String(value)}`)
    }
  }
  if (tool.retries !== undefined && !(Number.isInteger(tool.retries) && tool.retries >= 0)) {
    throw new TypeError(`Tool "${tool.name}": retries must be a non-negative integer, got ${String(tool.retries)}`)
  }
}

function describe(tool: Tool): ToolDescription {
  const { $schema: _dialect, ...parameters } = tool.parameters ?? z.toJSONSchema(tool.inputSchema, { io: 'input' })
  if (parameters.type !== 'object') {
    throw new TypeError(`Tool "${tool.name}": inputSchema must be an object schema, got ${String(parameters.type)}`)
  }
  return { name: tool.name, description: tool.description, parameters }
}
