// A stock-level tool server in plain JavaScript (Node's http module, no dependencies), for
// toolgate's configuration file. It answers text/plain, which toolgate passes to the model as is.
//
// Usage: node examples/tool-servers/inventory.mjs [PORT]   (0 picks a free port)
import { createServer } from 'node:http'
import process from 'node:process'

const stock = { 'sku-red-mug': 12, 'sku-blue-mug': 0 }

const server = createServer((request, response) => {
  let body = ''
  request.on('data', (chunk) => (body += chunk))
  request.on('end', () => {
    const { sku } = JSON.parse(body || '{}')
    if (!(sku in stock)) {
      response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`unknown sku ${JSON.stringify(sku)}; known: ${Object.keys(stock).join(', ')}`)
      return
    }
    response.writeHead(200, { 'content-type': 'text/plain' }).end(`${sku}: ${String(stock[sku])} in stock`)
  })
})
server.listen(Number(process.argv[2] ?? 9001), '127.0.0.1', () => {
  process.stdout.write(`inventory tool on http://127.0.0.1:${String(server.address().port)}\n`)
})
