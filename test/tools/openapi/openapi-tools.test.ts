import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import { assistantMessage, buildTestApp, listen, type CallSpec } from '../../helpers/app.ts'
import { petsDocumentPath, petsService } from './pets-service.ts'

const canary = 'canary-pets-token-9c1d'
const adminKey = 'admin-key-0123456789abcdef'

/** A gateway listening on a loopback port, with the document of `entry` imported as the pets_ tools; requests go over HTTP. */
const allOperations = 'listPets:\ngetPet: { timeoutMs: 2000 }\ncreatePet:\nupdatePet:\ndeletePet:'

async function gatewayWith(t: TestContext, entry: string, operations = allOperations) {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-openapi-'))
  const file = join(dir, 'tools.yaml')
  await writeFile(
    file,
    `openapi:
  - ${entry.trim().replaceAll('\n', '\n    ')}
    prefix: pets_
    headers: { Authorization: "Bearer \${PETS_TOKEN}" }
    retries: 2
    operations:
${operations.replace(/^/gm, '      ')}
`,
  )
  process.env.PETS_TOKEN = canary
  t.after(() => {
    delete process.env.PETS_TOKEN
  })
  const app = await buildTestApp(t, { env: { TOOLGATE_CONFIG: file, TOOLGATE_ADMIN_KEY: adminKey }, random: () => 0 })
  const base = await listen(app)
  const execute = async (calls: CallSpec[]) => {
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(assistantMessage(calls)),
    })
    assert.equal(response.status, 200)
    return ((await response.json()) as ExecuteReply).results
  }
  const call = async (name: string, args: unknown) => {
    const [result] = await execute([['call_1', name, args]])
    assert.ok(result)
    return result
  }
  const tools = async () =>
    (await (await fetch(`${base}/tools`)).json()) as Array<{ function: { name: string; description: string; parameters: unknown } }>
  const reload = () => fetch(`${base}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } })
  return { app, call, execute, tools, reload }
}

/** The fixture as a file, by a path relative to the tools file's directory, the service's base URL given. */
async function fromFile(t: TestContext) {
  const service = await petsService(t)
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-openapi-'))
  const gateway = await gatewayWith(t, `document: ${relative(dir, petsDocumentPath)}\nbaseUrl: ${service.origin}/api/v1`)
  return { service, ...gateway }
}

describe('OpenAPI operations as tools', () => {
  it('lists every operation named in the tools file in GET /tools, with the arguments schema built from its parameters and body', async (t) => {
    const { tools } = await fromFile(t)
    const listed = await tools()
    const ours = listed.filter((tool) => tool.function.name.startsWith('pets_'))
    assert.deepEqual(
      ours.map((tool) => tool.function.name),
      ['pets_listPets', 'pets_getPet', 'pets_createPet', 'pets_updatePet', 'pets_deletePet'],
    )
    const byName = new Map(ours.map((tool) => [tool.function.name, tool.function]))
    assert.equal(byName.get('pets_getPet')?.description, 'One pet, by id.')
    assert.deepEqual(byName.get('pets_getPet')?.parameters, {
      type: 'object',
      properties: { petId: { type: 'string', description: "The pet's id." } },
      required: ['petId'],
      additionalProperties: false,
    })
    assert.deepEqual(byName.get('pets_createPet')?.parameters, {
      type: 'object',
      properties: {
        'X-Tenant': { type: 'string', pattern: '^[a-z]+$', description: 'Whose pets.' },
        body: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1 }, tag: { type: 'string' } },
          required: ['name'],
          additionalProperties: false,
          description: 'The new pet.',
        },
      },
      required: ['X-Tenant', 'body'],
      additionalProperties: false,
    })
    assert.deepEqual(Object.keys((byName.get('pets_listPets')?.parameters as { properties: object }).properties), [
      'limit',
      'tag',
      'X-Tenant',
    ])
    assert.ok(!JSON.stringify(listed).includes(canary))
  })

  it("takes each tool's flags from its method, and its limits from the operation over the entry", async (t) => {
    const { app } = await fromFile(t)
    const flags = (name: string) => {
      const tool = app.registry.get(name)
      return [tool?.readOnly, tool?.idempotent, tool?.destructive, tool?.retries, tool?.timeoutMs]
    }
    assert.deepEqual(flags('pets_listPets'), [true, true, false, 2, undefined])
    assert.deepEqual(flags('pets_getPet'), [true, true, false, 2, 2000])
    assert.deepEqual(flags('pets_createPet'), [false, false, false, 2, undefined])
    assert.deepEqual(flags('pets_updatePet'), [false, true, true, 2, undefined])
    assert.deepEqual(flags('pets_deletePet'), [false, true, true, 2, undefined])
  })

  it('sends each operation with its method, path, query, headers and JSON body', async (t) => {
    const { service, execute } = await fromFile(t)
    const results = await execute([
      ['c1', 'pets_listPets', { limit: 2, tag: ['dog', 'cat'], 'X-Tenant': 'acme' }],
      ['c2', 'pets_createPet', { 'X-Tenant': 'acme', body: { name: 'Rex', tag: 'dog' } }],
      ['c3', 'pets_updatePet', { petId: '7', body: { name: 'Max' } }],
      ['c4', 'pets_getPet', { petId: '7' }],
      ['c5', 'pets_deletePet', { petId: '7' }],
    ])
    assert.deepEqual(
      results.map((result) => result.output),
      [[{ id: '1', name: 'Rex' }], { id: '2', name: 'Rex', tag: 'dog' }, { id: '7', name: 'Max' }, 'pet 7', null],
    )
    const seen = [...service.state.received].sort((a, b) => a.method.localeCompare(b.method))
    assert.deepEqual(
      seen.map(({ method, url, body }) => [method, url, body]),
      [
        ['DELETE', '/api/v1/pets/7', ''],
        ['GET', '/api/v1/pets?limit=2&tag=dog&tag=cat', ''],
        ['GET', '/api/v1/pets/7', ''],
        ['POST', '/api/v1/pets', '{"name":"Rex","tag":"dog"}'],
        ['PUT', '/api/v1/pets/7', '{"name":"Max"}'],
      ],
    )
    const list = seen[1]
    assert.equal(list?.headers['x-tenant'], 'acme')
    assert.equal(list.headers.authorization, `Bearer ${canary}`)
    assert.equal(list.headers['x-toolgate-call-id'], 'c1')
    assert.match(String(list.headers['idempotency-key']), /^[\w-]{32}$/)
    const create = seen[3]
    assert.equal(create?.headers['content-type'], 'application/json')
    assert.equal(create.headers['x-tenant'], 'acme')
  })

  it('refuses arguments the schema does not allow, before sending anything', async (t) => {
    const { service, execute } = await fromFile(t)
    const results = await execute([
      ['c1', 'pets_listPets', { limit: 0, 'X-Tenant': 'acme' }],
      ['c2', 'pets_listPets', { limit: 2 }],
      ['c3', 'pets_createPet', { 'X-Tenant': 'acme' }],
      ['c4', 'pets_createPet', { 'X-Tenant': 'acme', body: { name: 'Rex', owner: 'me' } }],
      ['c5', 'pets_createPet', { 'X-Tenant': 'ACME', body: { name: 'Rex' } }],
      ['c6', 'pets_getPet', { petId: '7', extra: true }],
    ])
    assert.deepEqual(
      results.map((result) => result.error?.code),
      Array.from({ length: 6 }, () => 'invalid_arguments'),
    )
    assert.match(results[0]?.error?.message ?? '', /arguments\.limit/)
    assert.match(results[3]?.error?.message ?? '', /owner/)
    assert.equal(service.state.received.length, 0)
  })

  it('keeps a path parameter inside the path: "/", "?" and "#" are encoded, "." and ".." refused', async (t) => {
    const { service, execute } = await fromFile(t)
    const results = await execute([
      ['c1', 'pets_getPet', { petId: '../x?y#z' }],
      ['c2', 'pets_getPet', { petId: '..' }],
      ['c3', 'pets_getPet', { petId: '%2e%2E' }],
      ['c4', 'pets_getPet', { petId: '' }],
    ])
    assert.equal(results[0]?.output, 'pet ../x?y#z')
    assert.deepEqual(
      service.state.received.map((request) => request.url),
      ['/api/v1/pets/..%2Fx%3Fy%23z', '/api/v1/pets/%252e%252E'],
    )
    assert.match(results[1]?.error?.message ?? '', /cannot be "\." or "\.\."/)
    assert.equal(results[2]?.output, 'pet %2e%2E')
    assert.match(results[3]?.error?.message ?? '', /path parameter petId is empty/)
  })

  it("retries a GET's 503 but not a POST's", async (t) => {
    const { service, call } = await fromFile(t)
    const get = await call('pets_getPet', { petId: 'busy' })
    assert.deepEqual([get.error?.code, get.attempts, service.requestsTo('/api/v1/pets/busy')], ['tool_error', 3, 3])
    const post = await call('pets_createPet', { 'X-Tenant': 'acme', body: { name: 'busy' } })
    assert.deepEqual([post.error?.code, post.attempts, service.requestsTo('/api/v1/pets') - 3], ['tool_error', 1, 1])
    assert.match(post.error?.message ?? '', /pets_createPet's endpoint answered HTTP 503/)
  })

  it('keeps the configured secret out of the errors', async (t) => {
    const { call } = await fromFile(t)
    const result = await call('pets_getPet', { petId: 'echo' })
    assert.match(result.error?.message ?? '', /refused the call \(HTTP 400\).*bad credentials: Bearer \[redacted\]/)
    assert.ok(!JSON.stringify(result).includes(canary))
  })

  it("sends query and header parameters in their style, and reads a 3.0 document's nullable", async (t) => {
    const service = await petsService(t)
    const query = (name: string, schema: object, more: object = {}) => ({ name, in: 'query', schema, ...more })
    service.state.document = JSON.stringify({
      openapi: '3.0.3',
      info: { title: 'search', version: '1' },
      servers: [{ url: '/api/v1' }],
      paths: {
        '/search': {
          get: {
            operationId: 'listPets',
            parameters: [
              query(
                'filter',
                { type: 'object', properties: { kind: { type: 'string' }, age: { type: 'integer' } } },
                { style: 'deepObject' },
              ),
              query('ids', { type: 'array', items: { type: 'integer' } }, { style: 'pipeDelimited' }),
              query('sort', { type: 'array', items: { type: 'string' } }, { explode: false }),
              query('q', { type: 'string', nullable: true }),
              { name: 'meta', in: 'query', content: { 'application/json': { schema: { type: 'object' } } } },
              { name: 'X-Ids', in: 'header', schema: { type: 'array', items: { type: 'string' } } },
            ],
            responses: {},
          },
        },
      },
    })
    const { call } = await gatewayWith(t, `document: ${service.origin}/openapi.yaml`, 'listPets:')
    const result = await call('pets_listPets', {
      filter: { kind: 'dog', age: 3 },
      ids: [1, 2],
      sort: ['name', '-age'],
      q: null,
      meta: { a: 1 },
      'X-Ids': ['a', 'b'],
    })
    assert.equal(result.ok, true)
    const [request] = service.state.received
    assert.equal(request?.url, '/api/v1/search?filter%5Bkind%5D=dog&filter%5Bage%5D=3&ids=1%7C2&sort=name%2C-age&meta=%7B%22a%22%3A1%7D')
    assert.equal(request.headers['x-ids'], 'a,b')
  })

  it('fetches a document by URL, its relative server resolved against it, and rereads it at a reload', async (t) => {
    const service = await petsService(t)
    const { call, tools, reload } = await gatewayWith(t, `document: ${service.origin}/openapi.yaml`)
    assert.equal((await call('pets_getPet', { petId: '3' })).output, 'pet 3')
    assert.equal(service.state.received[0]?.url, '/api/v1/pets/3')
    service.state.document = service.state.document.replace('One pet, by id.', 'One pet, by its id (second edition).')
    assert.equal((await reload()).status, 200)
    const described = (await tools()).find((tool) => tool.function.name === 'pets_getPet')?.function.description
    assert.equal(described, 'One pet, by its id (second edition).')

    service.state.document = service.state.document.replace(
      "in: path\n        required: true\n        description: The pet's id.",
      'in: cookie',
    )
    const refused = await reload()
    assert.equal(refused.status, 422)
    const { error } = (await refused.json()) as { error: { code: string; message: string } }
    assert.equal(error.code, 'invalid_config')
    assert.match(
      error.message,
      /openapi\[0\] \(http:\/\/127\.0\.0\.1:\d+\/openapi\.yaml\): paths\.\/pets\/\{petId\}\.parameters\[0\]: "petId" is a cookie parameter/,
    )
    assert.equal((await call('pets_getPet', { petId: '4' })).output, 'pet 4', 'the tools in service stay')
  })
})
