import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** The only routes the health listener serves: what a kubelet or load balancer asks. */
const healthRoutes = new Set(['/healthz', '/readyz'])

export interface HealthListener {
  /** Where it listens, e.g. http://10.0.0.7:9090 */
  url: string
  close: () => Promise<void>
}

/**
 * A second listener for an orchestrator's probes, for a gateway that listens on loopback only (a
 * sidecar): the kubelet's HTTP probes go to the pod's address, which a loopback server does not
 * answer. It serves GET and HEAD of /healthz and /readyz and nothing else, through the app's own
 * routing, so they answer exactly as on the main port (readiness 503 while overloaded or closing).
 */
export async function listenForHealthChecks(
  app: FastifyInstance,
  address: { host: string; port: number },
  timeouts: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number },
): Promise<HealthListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?', 1)[0] ?? ''
    if ((request.method === 'GET' || request.method === 'HEAD') && healthRoutes.has(path)) {
      app.routing(request, response)
      return
    }
    response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
    response.end(
      JSON.stringify({
        error: { code: 'not_found', message: 'The health listener serves only GET /healthz and GET /readyz.' },
      }),
    )
  })
  server.headersTimeout = timeouts.headersTimeoutMs
  server.requestTimeout = timeouts.requestTimeoutMs
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs
  server.listen(address.port, address.host)
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error
    }),
  ])
  const { address: host, port, family } = server.address() as AddressInfo
  return {
    url: `http://${family === 'IPv6' ? `[${host}]` : host}:${String(port)}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
      server.closeAllConnections()
      await closed
    },
  }
}
