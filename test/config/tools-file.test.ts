import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseConfigFile } from '../../src/config/tools-file.ts'
import { ConfigFileError } from '../../src/config/yaml-file.ts'

const httpTool = (extra = '') => `tools:
  - name: lookup_order
    description: Look up an order.
    parameters: { type: object }
    http: { url: "http://127.0.0.1:9000/orders" }
${extra}`

const parse = (text: string) => parseConfigFile(text, 'tools.yaml', {}).config

function refusal(text: string): string {
  try {
    parseConfigFile(text, 'tools.yaml', {})
  } catch (error) {
    assert.ok(error instanceof ConfigFileError)
    return error.message
  }
  assert.fail('expected the file to be refused')
}

describe('the flags of the configuration file', () => {
  it('reads idempotent and readOnly of an HTTP tool, false unless given', () => {
    const flags = (extra: string) => {
      const [tool] = parse(httpTool(extra)).tools
      return [tool?.idempotent, tool?.readOnly]
    }
    assert.deepEqual(flags(''), [false, false])
    assert.deepEqual(flags('    idempotent: true\n'), [true, false])
    assert.deepEqual(flags('    readOnly: true\n'), [false, true])
  })

  it('reads idempotent and readOnly of an MCP server entry, stdio or Streamable HTTP, unset unless given', () => {
    const { mcp } = parse(`mcp:
  - name: files
    command: node
  - name: search
    url: http://127.0.0.1:9100/mcp
    idempotent: true
  - name: docs
    command: node
    readOnly: true
    idempotent: false
`)
    assert.deepEqual(
      mcp.map((server) => [server.name, server.idempotent, server.readOnly]),
      [
        ['files', undefined, undefined],
        ['search', true, undefined],
        ['docs', false, true],
      ],
    )
  })

  it('refuses a flag that is not a boolean, naming its line and path', () => {
    assert.match(refusal(httpTool('    readOnly: "yes"\n')), /^tools\.yaml:6:\d+: tools\[0\]\.readOnly: /)
    // An MCP entry is a union (stdio or Streamable HTTP): its refusal is reported at the entry.
    assert.match(refusal('mcp:\n  - name: files\n    command: node\n    idempotent: 1\n'), /^tools\.yaml:2:\d+: mcp\[0\]: /)
  })
})
