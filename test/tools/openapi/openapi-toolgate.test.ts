import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, listen } from '../../helpers/app.ts'

describe("toolgate's own OpenAPI document", () => {
  it("imports a running toolgate's GET /tools from its GET /openapi.json, by method and path (it has no operationIds)", async (t) => {
    const upstream = await buildTestApp(t)
    const upstreamUrl = await listen(upstream)
    const file = join(await mkdtemp(join(tmpdir(), 'toolgate-openapi-')), 'tools.yaml')
    await writeFile(
      file,
      `openapi:
  - document: ${upstreamUrl}/openapi.json   # no servers: "/" of where the document came from
    operations:
      "GET /tools": { name: upstream_tools }
builtins: { disabled: [get_time, get_date, get_weather] }
`,
    )
    const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file } })
    const base = await listen(app)
    const listed = (await (await fetch(`${base}/tools?format=anthropic`)).json()) as Array<{ name: string; input_schema: unknown }>
    // Compared with the document itself: the routes' words are other engineers' to change.
    const document = (await (await fetch(`${upstreamUrl}/openapi.json`)).json()) as {
      paths: {
        '/tools': {
          get: { summary: string; description?: string; parameters: Array<{ name: string; schema: object; description: string }> }
        }
      }
    }
    const operation = document.paths['/tools'].get
    const format = operation.parameters.find((parameter) => parameter.name === 'format')
    assert.ok(format)
    assert.deepEqual(listed, [
      {
        name: 'upstream_tools',
        description: [operation.summary, operation.description].filter(Boolean).join('\n\n'),
        input_schema: {
          type: 'object',
          properties: { format: { ...format.schema, description: format.description } },
          additionalProperties: false,
        },
      },
    ])
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(assistantMessage([['c1', 'upstream_tools', { format: 'gemini' }]])),
    })
    const [result] = ((await response.json()) as ExecuteReply).results
    assert.deepEqual(result?.output, await (await fetch(`${upstreamUrl}/tools?format=gemini`)).json())
    assert.ok(JSON.stringify(result?.output).includes('get_weather'))
  })
})
