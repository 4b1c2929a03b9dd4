// A gateway with the built-in tools and one of your own. Run: node examples/custom-tool.ts
import { z } from 'zod'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/env.ts'
import { ToolError } from '../src/errors.ts'
import { defineTool } from '../src/tools/tool.ts'
import { createBuiltinTools } from '../src/tools/builtin/builtin-tools.ts'

const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look up an order by its id.',
  inputSchema: z.strictObject({ orderId: z.string().regex(/^ord_\w+$/) }),
  timeoutMs: 5_000, // deadline of the whole call, retries included
  attemptTimeoutMs: 2_000, // deadline of one attempt; a timed-out attempt is retried
  retries: 2, // only for retryable failures
  concurrency: 4, // calls of this tool running at once, across all requests
  async execute({ orderId }, { signal }) {
    const response = await fetch(`http://127.0.0.1:9000/orders/${orderId}`, { signal })
    if (response.status >= 500) throw new ToolError('the order service is unavailable', { retryable: true })
    if (response.status === 404) throw new ToolError(`no order ${orderId}; check the id`)
    return await response.json()
  },
})

const config = loadConfig()
const app = await buildApp(config, { tools: [...createBuiltinTools(config), lookupOrder] })
await app.listen({ host: config.host, port: config.port })
