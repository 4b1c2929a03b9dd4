// A small MCP server over stdio, in plain JavaScript with the official SDK: toolgate starts it
// (see tools.yaml) and its tools appear as notes__add_note and notes__list_notes.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { z } from 'zod'

const notes = []
const server = new McpServer({ name: 'notes', version: '1.0.0' })
server.registerTool('add_note', { description: 'Keep a short note.', inputSchema: { text: z.string().min(1).max(500) } }, ({ text }) => {
  notes.push(text)
  return { content: [{ type: 'text', text: `note ${String(notes.length)} kept` }] }
})
server.registerTool('list_notes', { description: 'The notes kept so far.', inputSchema: {} }, () =>
  notes.length === 0
    ? { content: [{ type: 'text', text: 'no notes yet' }], isError: true }
    : { content: [{ type: 'text', text: notes.map((note, index) => `${String(index + 1)}. ${note}`).join('\n') }] },
)
await server.connect(new StdioServerTransport())
