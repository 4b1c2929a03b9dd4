import { z } from 'zod'
import { toolNamePattern, toolNameRule } from '../limits.ts'
import { laneOf, type Lane } from './lane.ts'
import { sideEffectsOf, ToolDefinitionError, type SideEffects, type Tool, type ToolDescription } from './tool.ts'

/** A tool as toolgate itself lists it (GET /tools?format=toolgate): its description, its side effects and its lane. */
export interface ToolListing extends ToolDescription, SideEffects {
  lane: { key: string | null; stopOnFailure: boolean } | null
}

/** The tools a gateway can run, by name. Names are looked up in a Map: `__proto__` is just an unknown name. */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>()
  readonly #lanes = new Map<string, Lane>()
  readonly #descriptions: ToolDescription[]
  #listings: ToolListing[] | undefined

  /**
   * Throws a ToolDefinitionError for a tool with a bad name, a name taken twice, a bad limit, a
   * non-object schema, a bad lane template, or both readOnly and destructive.
   */
  constructor(tools: Iterable<Tool>) {
    for (const tool of tools) {
      if (!toolNamePattern.test(tool.name)) throw new ToolDefinitionError(`Tool name ${JSON.stringify(tool.name)} ${toolNameRule}`)
      if (this.#tools.has(tool.name)) throw new ToolDefinitionError(`Tool name "${tool.name}" is registered twice`)
      checkLimits(tool)
      if (tool.readOnly === true && tool.destructive === true) {
        throw new ToolDefinitionError(`Tool "${tool.name}": it cannot be both readOnly and destructive`)
      }
      const lane = laneOf(tool)
      if (lane !== undefined) this.#lanes.set(tool.name, lane)
      this.#tools.set(tool.name, tool)
    }
    this.#descriptions = [...this.#tools.values()].map(describe)
  }

  /** The lane the tool named `name` declares, checked. */
  lane(name: string): Lane | undefined {
    return this.#lanes.get(name)
  }

  /** Whether any tool declares a lane: a batch of a registry without one need not look for them. */
  get hasLanes(): boolean {
    return this.#lanes.size > 0
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

  /** Every tool (or those in `only`) with its side effects and lane; made on first use. */
  listings(only?: ReadonlySet<string>): readonly ToolListing[] {
    const listings = (this.#listings ??= this.#descriptions.map((description) => this.#listing(description)))
    return only === undefined ? listings : listings.filter((listing) => only.has(listing.name))
  }

  #listing(description: ToolDescription): ToolListing {
    const tool = this.#tools.get(description.name)
    if (tool === undefined) throw new Error(`invariant broken: no tool "${description.name}"`)
    const lane = this.#lanes.get(tool.name)
    return {
      ...description,
      ...sideEffectsOf(tool),
      lane: lane === undefined ? null : { key: lane.template, stopOnFailure: lane.stopOnFailure },
    }
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
