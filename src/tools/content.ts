/**
 * Content a tool returns in blocks rather than as one value, shaped as MCP's content blocks: text,
 * image, audio, an embedded resource, a link to a resource. Providers whose tool results take
 * images and files pass the blocks on; the others read their text rendering.
 */
export type ContentBlock = TextBlock | MediaBlock | ResourceBlock | ResourceLinkBlock

export interface TextBlock {
  type: 'text'
  text: string
}

/** An image or a sound, its bytes in base64. */
export interface MediaBlock {
  type: 'image' | 'audio'
  data: string
  mimeType: string
}

/** A resource's contents, carried in the result: its text, or its bytes in base64. */
export interface ResourceBlock {
  type: 'resource'
  resource: { uri: string; mimeType?: string; text: string } | { uri: string; mimeType?: string; blob: string }
}

/** A resource the tool names without carrying it. */
export interface ResourceLinkBlock {
  type: 'resource_link'
  uri: string
  name: string
  title?: string
  mimeType?: string
  description?: string
  size?: number
}

/** A block whose bytes are carried in base64, with what they are. */
export interface BinaryBlock {
  kind: 'image' | 'audio' | 'resource'
  mimeType: string
  /** The bytes, in base64. */
  data: string
  uri?: string
}

/**
 * A tool's result in blocks: what the model reads, and what `results[].output` shows (for an MCP
 * tool, its whole result). fit-result measures the blocks against the result limit.
 */
export class RichContent {
  readonly blocks: readonly ContentBlock[]
  readonly output: unknown

  constructor(blocks: readonly ContentBlock[], output: unknown) {
    this.blocks = blocks
    this.output = output
  }
}

/**
 * A result its tool hands over to the gateway: JSON data (what JSON.parse makes) made for this
 * call, to which the tool keeps no reference, such as an upstream's body it just parsed. The
 * gateway takes `value` as it is, without the copy it takes of any other object result (which its
 * tool might go on changing). Make one with handOver.
 */
export class HandedOver {
  readonly value: unknown

  constructor(value: unknown) {
    this.value = value
  }
}

/** `value` handed over to the gateway, to be answered without a copy: see HandedOver. */
export function handOver(value: unknown): HandedOver {
  return new HandedOver(value)
}

/** The bytes a block carries in base64, or undefined for a block of text. */
export function binaryOf(block: ContentBlock): BinaryBlock | undefined {
  if (block.type === 'image' || block.type === 'audio') return { kind: block.type, mimeType: block.mimeType, data: block.data }
  if (block.type === 'resource' && 'blob' in block.resource) {
    const { uri, mimeType, blob } = block.resource
    return { kind: 'resource', mimeType: mimeType ?? 'application/octet-stream', data: blob, uri }
  }
  return undefined
}

/** How many bytes `base64` decodes to, without decoding it. */
export function decodedBytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding)
}

/** What a binary block is, in words: `image/png image (68 bytes)`, `resource file:///a.bin (application/octet-stream, 12 bytes)`. */
export function describeBinary(binary: BinaryBlock): string {
  const bytes = `${String(decodedBytes(binary.data))} bytes`
  if (binary.kind === 'resource') return `resource ${binary.uri ?? ''} (${binary.mimeType}, ${bytes})`
  return `${binary.kind} (${binary.mimeType}, ${bytes})`
}

/**
 * A block as text, for a tool message that carries text only (or a block the provider cannot
 * carry): text as it is, a text resource with its URI, anything else said what it was.
 */
export function renderBlock(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text
    case 'resource_link':
      return renderLink(block)
    case 'resource':
      if ('text' in block.resource) {
        const { uri, mimeType, text } = block.resource
        return `[resource ${uri}${mimeType === undefined ? '' : ` (${mimeType})`}]\n${text}`
      }
      break
    default:
      break
  }
  const binary = binaryOf(block)
  return binary === undefined ? '' : `[${describeBinary(binary)}: not shown, this tool message cannot carry it]`
}

function renderLink(link: ResourceLinkBlock): string {
  const facts = [link.mimeType, link.size === undefined ? undefined : `${String(link.size)} bytes`].filter((fact) => fact !== undefined)
  const about = [link.title, link.description].filter((text) => text !== undefined && text !== '')
  return `[resource link: ${link.name} <${link.uri}>${facts.length > 0 ? ` (${facts.join(', ')})` : ''}${about.length > 0 ? `: ${about.join(' - ')}` : ''}]`
}

/** The blocks as one text, one block after the other. */
export function renderText(blocks: readonly ContentBlock[]): string {
  return blocks
    .map(renderBlock)
    .filter((text) => text !== '')
    .join('\n')
}

/**
 * A result's blocks in a provider's own items: the blocks `native` takes (an image, a PDF) in its
 * form, every other block as `text` of its rendering (empty ones left out), in their order; the
 * plain `content` when `native` took none of them.
 */
export function providerItems<Item>(
  blocks: readonly ContentBlock[],
  content: string,
  native: (binary: BinaryBlock) => Item | undefined,
  text: (text: string) => Item,
): string | Item[] {
  const items: Item[] = []
  let natives = 0
  for (const block of blocks) {
    const binary = binaryOf(block)
    const item = binary === undefined ? undefined : native(binary)
    if (item !== undefined) {
      items.push(item)
      natives++
      continue
    }
    const rendered = renderBlock(block)
    if (rendered !== '') items.push(text(rendered))
  }
  return natives === 0 ? content : items
}
