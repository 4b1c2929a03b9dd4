import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

export const petsDocumentPath = new URL('../../fixtures/openapi-pets.yaml', import.meta.url).pathname

export interface Received {
  method: string
  /** The path and query as they reached the service, undecoded. */
  url: string
  headers: IncomingHttpHeaders
  body: string
}

type Answer = [status: number, headers: Record<string, string>, body: string]

/** What the service answers a request under /api/v1. */
function petsAnswer(method: string, url: string, headers: IncomingHttpHeaders, body: string): Answer {
  const json = (status: number, value: unknown): Answer => [status, { 'content-type': 'application/json' }, JSON.stringify(value)]
  const petId = /^\/api\/v1\/pets\/([^/?]+)/.exec(url)?.[1]
  if (petId === 'busy' || body.includes('"busy"')) return json(503, { error: 'busy' })
  if (petId === 'echo') return json(400, { error: `bad credentials: ${String(headers.authorization)}` })
  if (method === 'DELETE') return [204, {}, '']
  if (method === 'GET' && petId !== undefined) return [200, { 'content-type': 'text/plain' }, `pet ${decodeURIComponent(petId)}`]
  if (method === 'POST') return json(201, { id: '2', ...(JSON.parse(body) as object) })
  if (method === 'PUT') return json(200, { id: petId, ...(JSON.parse(body) as object) })
  return json(200, [{ id: '1', name: 'Rex' }])
}

/**
 * The service test/fixtures/openapi-pets.yaml describes, on a real loopback port: it records
 * every request under /api/v1 and answers as the document says. A pet id or a pet name "busy"
 * is answered 503; a pet id "echo" is answered 400 quoting the Authorization header. It also
 * serves its document at /openapi.yaml (`document`, which a test may change) and `/slow` never answers.
 */
export async function petsService(t: TestContext) {
  const state = { document: await readFile(petsDocumentPath, 'utf8'), received: [] as Received[] }
  const documentAnswer = (url: string): Answer | undefined => {
    if (url === '/openapi.yaml') return [200, { 'content-type': 'application/yaml' }, state.document]
    if (url === '/moved.yaml') return [302, { location: '/openapi.yaml' }, '']
    return undefined
  }
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const { url = '/', method = 'GET', headers } = request
      if (url === '/slow') return
      let answer = documentAnswer(url)
      if (answer === undefined) {
        state.received.push({ method, url, headers, body })
        answer = petsAnswer(method, url, headers, body)
      }
      response.writeHead(answer[0], answer[1]).end(answer[2])
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  const origin = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
  return { origin, state, requestsTo: (path: string) => state.received.filter((request) => request.url.startsWith(path)).length }
}
