// A tool's upstream for the load runs, in a process of its own so that the load generator's busy
// event loop does not slow the tools down: answers after 20 ms, or after a second when asked
// something slow. Prints its port on stdout.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const server = createServer((request, response) => {
  let body = ''
  request.on('data', (chunk: Buffer) => (body += chunk.toString()))
  request.on('end', () => {
    const delayMs = body.includes('slow') ? 1_000 : 20
    const timer = setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"found":true}'), delayMs)
    response.on('close', () => {
      clearTimeout(timer)
    })
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${String((server.address() as AddressInfo).port)}\n`)
})
process.on('SIGTERM', () => process.exit(0))
