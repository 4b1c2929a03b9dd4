// A gateway with the built-in tools and one of your own, lookup_order. Run: npm run custom-tool
// (HOST, PORT and the other variables as for npm start; ORDERS_URL: the order service, default http://127.0.0.1:9000)
import { z } from 'zod'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/env.ts'
import { ToolError } from '../src/errors.ts'
import { defineTool } from '../src/tools/tool.ts'
import { createBuiltinTools } from '../src/tools/builtin/builtin-tools.ts'

const ordersUrl = process.env.ORDERS_URL ?? 'http://127.0.0.1:9000'

const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look up an order by its id.',
  inputSchema: z.strictObject({ orderId: z.string().regex(/^ord_\w+$/) }),
  timeoutMs: 5_000, // deadline of the whole call, retries included
  attemptTimeoutMs: 2_000, // deadline of one attempt; a timed-out attempt is retried (the tool is readOnly)
  retries: 2, // only for retryable failures
  readOnly: true, // a lookup: safe to run twice
  concurrency: 4, // calls of this tool running at once, across all requests
  async execute({ orderId }, { signal }) {
    const response = await fetch(`${ordersUrl}/orders/${orderId}`, { signal })
    if (response.status >= 500) throw new ToolError('the order service is unavailable', { retryable: true })
    if (response.status === 404) throw new ToolError(`no order ${orderId}; check the id`)
    return await response.json()
  },
})

const config = loadConfig()
const app = await buildApp(config, { tools: [...createBuiltinTools(config), lookupOrder] })
await app.listen({ host: config.host, port: config.port })
// On SIGTERM or Ctrl-C: stop taking requests, finish the batches in flight, exit.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close())
