import assert from 'node:assert/strict'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { buildApp } from '../../../src/app.ts'
import { parseConfigFile, type OpenApiConfig } from '../../../src/config/tools-file.ts'
import { ConfigFileError } from '../../../src/config/yaml-file.ts'
import { maxOpenApiDocumentBytes } from '../../../src/limits.ts'
import { defaultOpenApiLimits, loadOpenApiTools } from '../../../src/tools/openapi/openapi-tools.ts'
import { testConfig } from '../../helpers/app.ts'
import { petsDocumentPath, petsService } from './pets-service.ts'

type Parameter = Record<string, unknown>
interface Operation {
  operationId?: string
  parameters: Parameter[]
  requestBody?: unknown
}
/** The parts of the pets document the tests change. */
interface Document {
  openapi?: string
  swagger?: string
  info: { description?: string }
  paths: { '/pets': { get: Operation & { parameters: [{ schema: unknown }, ...Parameter[]] }; post: Operation } }
  components: { schemas: Record<string, unknown> & { NewPet: { properties: Record<string, unknown> } } }
}

const pets = parse(await readFile(petsDocumentPath, 'utf8')) as Document

/** The tools file's entry for `doc.json`, with the given `operations:` lines. */
const entry = (operations: string, extra = '') => `openapi:
  - document: doc.json
    baseUrl: http://127.0.0.1:9/api/v1
${extra}    operations:
${operations.replace(/^/gm, '      ')}
`

/** Start-up with the pets document changed by `change`: the names of the tools, or the ConfigFileError's message. */
async function startUp(change: (doc: Document) => void, toolsFile = entry('listPets:\ncreatePet:')): Promise<string[] | string> {
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-openapi-'))
  const doc = structuredClone(pets)
  change(doc)
  await writeFile(join(dir, 'doc.json'), JSON.stringify(doc))
  await writeFile(join(dir, 'tools.yaml'), toolsFile)
  try {
    const app = await buildApp(testConfig({ TOOLGATE_CONFIG: join(dir, 'tools.yaml') }))
    await app.close()
    return app.registry.names
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, `a ConfigFileError, not ${String(error)}`)
    assert.match(error.message, /tools\.yaml: openapi\[0\]/)
    return error.message
  }
}

const unchanged = () => undefined

describe('OpenAPI documents that cannot become tools', () => {
  it('refuses a document that cannot be read, or is not OpenAPI 3.x', async () => {
    assert.match(
      String(await startUp(unchanged, entry('listPets:').replace('doc.json', 'nowhere.yaml'))),
      /\(nowhere\.yaml\): cannot be read/,
    )
    assert.match(
      String(
        await startUp((doc) => {
          doc.openapi = '2.0'
        }),
      ),
      /\(doc\.json\): openapi: is "2\.0": only OpenAPI 3\.0 and 3\.1 documents are read/,
    )
    assert.match(
      String(
        await startUp((doc) => {
          delete doc.openapi
          doc.swagger = '2.0'
        }),
      ),
      /openapi: is null/,
    )
  })

  it('refuses an operation asked for that has no operationId, and takes it by method and path with a name', async () => {
    const noId = (doc: Document) => delete doc.paths['/pets'].get.operationId
    assert.match(String(await startUp(noId, entry('"GET /pets":'))), /: paths\.\/pets\.get: has no operationId: give its tool a name/)
    assert.deepEqual(await startUp(noId, entry('"GET /pets": { name: list_all }')), ['get_time', 'get_date', 'get_weather', 'list_all'])
  })

  it('refuses an operationId the document does not have, naming the entry of the tools file', async () => {
    assert.match(
      String(await startUp(unchanged, entry('listPet:'))),
      /tools\.yaml: openapi\[0\]\.operations\.listPet: doc\.json has no operation with this operationId/,
    )
    assert.match(String(await startUp(unchanged, entry('"GET /cats":'))), /operations\.GET \/cats: doc\.json has no such operation/)
  })

  it('refuses a cookie parameter, a style it cannot send, a name two parameters share', async () => {
    const withParameter = (parameter: Parameter) => (doc: Document) => doc.paths['/pets'].get.parameters.push(parameter)
    assert.match(
      String(await startUp(withParameter({ name: 'session', in: 'cookie', schema: { type: 'string' } }))),
      /: paths\.\/pets\.get\.parameters\[3\]: "session" is a cookie parameter, which toolgate does not send/,
    )
    assert.match(
      String(await startUp(withParameter({ name: 'id', in: 'query', style: 'matrix', schema: { type: 'string' } }))),
      /paths\.\/pets\.get\.parameters\[3\]: the style "matrix" of "id" is not supported in query/,
    )
    assert.match(
      String(await startUp(withParameter({ name: 'limit', in: 'header', schema: { type: 'string' } }))),
      /paths\.\/pets\.get\.parameters\[3\]: the argument name "limit" is taken by another parameter/,
    )
    const bodyParameter = (doc: Document) => doc.paths['/pets'].post.parameters.push({ name: 'body', in: 'query', schema: {} })
    assert.match(
      String(await startUp(bodyParameter)),
      /paths\.\/pets\.post\.parameters\[1\]: a parameter named "body" collides with the request body/,
    )
  })

  it("refuses a required request body that is not JSON, or a GET's, and leaves out an optional one", async () => {
    const xml = (required: boolean) => (doc: Document) => {
      doc.paths['/pets'].post.requestBody = { required, content: { 'application/xml': { schema: { type: 'string' } } } }
    }
    assert.match(
      String(await startUp(xml(true))),
      /: paths\.\/pets\.post\.requestBody: a required request body of application\/xml cannot be sent: toolgate sends JSON/,
    )
    assert.deepEqual(await startUp(xml(false)), ['get_time', 'get_date', 'get_weather', 'listPets', 'createPet'])
    const getBody = (required: boolean) => (doc: Document) => {
      doc.paths['/pets'].get.requestBody = { required, content: { 'application/json': { schema: { type: 'object' } } } }
    }
    assert.match(String(await startUp(getBody(true))), /: paths\.\/pets\.get\.requestBody: a GET request cannot carry the required body/)
    assert.deepEqual(await startUp(getBody(false)), ['get_time', 'get_date', 'get_weather', 'listPets', 'createPet'])
  })

  it('refuses a schema zod cannot convert, naming the parameter', async () => {
    const message = await startUp((doc) => {
      doc.paths['/pets'].get.parameters[0].schema = { not: { type: 'integer' } }
    })
    assert.match(String(message), /: paths\.\/pets\.get\.parameters\[0\]: zod cannot convert the schema of "limit": not is not supported/)
  })

  it('refuses a tool name that breaks the rule or is taken, and an operationId used twice', async () => {
    const spaced = (doc: Document) => {
      doc.paths['/pets'].get.operationId = 'list pets!'
    }
    assert.match(
      String(await startUp(spaced, entry('"list pets!":'))),
      /: paths\.\/pets\.get\.operationId: the tool name "list pets!" must be 1 to 64 letters, digits/,
    )
    assert.match(
      String(await startUp(unchanged, entry('listPets: { name: getPet }\ngetPet:'))),
      /: paths\.\/pets\/\{petId\}\.get: its tool name "getPet" is taken by paths\.\/pets\.get/,
    )
    assert.match(
      String(await startUp(unchanged, entry('listPets: { name: get_time }'))),
      /paths\.\/pets\.get: its tool name "get_time" is taken by another tool of the configuration/,
    )
    const twice = (doc: Document) => {
      doc.paths['/pets'].post.operationId = 'listPets'
    }
    assert.match(
      String(await startUp(twice, entry('listPets:'))),
      /: paths\.\/pets\.post\.operationId: the operationId "listPets" is also paths\.\/pets\.get's/,
    )
  })

  it('refuses a circular $ref where it is used, and serves the operations that do not use it', async () => {
    const circular = (doc: Document) => {
      doc.components.schemas.NewPet.properties.parent = { $ref: '#/components/schemas/NewPet' }
    }
    assert.match(
      String(await startUp(circular)),
      /: paths\.\/pets\.post\.requestBody\.content\.application\/json\.schema\.properties\.parent: is a circular \$ref/,
    )
    assert.deepEqual(await startUp(circular, entry('listPets:')), ['get_time', 'get_date', 'get_weather', 'listPets'])
  })

  it('reads no other document a $ref names, and refuses a $ref to nothing', async () => {
    const external = (doc: Document) => {
      doc.paths['/pets'].get.parameters[0].schema = { $ref: '/etc/passwd' }
    }
    assert.match(
      String(await startUp(external)),
      /paths\.\/pets\.get\.parameters\[0\]\.schema: the \$ref "\/etc\/passwd" points to another document, which toolgate does not read/,
    )
    const dangling = (doc: Document) => {
      doc.paths['/pets'].get.parameters[0].schema = { $ref: '#/components/schemas/Nope' }
    }
    assert.match(
      String(await startUp(dangling)),
      /: paths\.\/pets\.get\.parameters\[0\]\.schema: a \$ref cannot be resolved: Missing \$ref pointer/,
    )
  })

  it('refuses a relative server URL in a document read from a file, without a baseUrl', async () => {
    const message = await startUp(unchanged, entry('listPets:').replace('    baseUrl: http://127.0.0.1:9/api/v1\n', ''))
    assert.match(String(message), /: servers\[0\]\.url: "\/api\/v1" is not an http\(s\) URL from file: \(give the entry a baseUrl\)/)
  })

  it('bounds the document: its size, the operations it may give, the size of an arguments schema', async (t) => {
    const huge = (doc: Document) => {
      doc.info.description = 'x'.repeat(maxOpenApiDocumentBytes)
    }
    assert.match(String(await startUp(huge)), /\(doc\.json\): is larger than 4194304 bytes/)

    const operations = Array.from({ length: 101 }, (_, index) => `op${String(index)}:`).join('\n')
    assert.throws(() => parseConfigFile(entry(operations), 'tools.yaml', {}), /openapi\[0\]\.operations: at most 100 operations/)

    // Each level uses the next twice: 2^40 schemas once the $refs are resolved, which must be refused, not walked.
    const doubling = (doc: Document) => {
      for (let level = 0; level < 40; level++) {
        doc.components.schemas[`L${String(level)}`] = {
          type: 'array',
          prefixItems: [{ $ref: `#/components/schemas/L${String(level + 1)}` }, { $ref: `#/components/schemas/L${String(level + 1)}` }],
        }
      }
      doc.components.schemas.L40 = { type: 'string' }
      doc.paths['/pets'].get.parameters[0].schema = { $ref: '#/components/schemas/L0' }
    }
    const started = performance.now()
    assert.match(String(await startUp(doubling)), /: paths\.\/pets\.get: the arguments schema is too large/)
    assert.ok(performance.now() - started < 5_000)
    const longWords = (doc: Document) => {
      doc.components.schemas.NewPet.properties.name = { type: 'string', description: 'x'.repeat(300 * 1024) }
    }
    assert.match(String(await startUp(longWords)), /: paths\.\/pets\.post: the arguments schema is too large/)

    const service = await petsService(t)
    const load = (config: Partial<OpenApiConfig>, limits = defaultOpenApiLimits) =>
      loadOpenApiTools(
        { document: `${service.origin}/openapi.yaml`, prefix: '', operations: { listPets: {} }, ...config },
        {
          configFile: '/etc/toolgate/tools.yaml',
          index: 0,
          secrets: [],
          taken: new Set(),
          limits,
        },
      )
    assert.equal((await load({})).length, 1)
    service.state.document = service.state.document.replace('List the pets, optionally by tag.', 'y'.repeat(5_000))
    assert.equal((await load({}))[0]?.description, `${'y'.repeat(3_999)}…`)
    await assert.rejects(
      load({}, { ...defaultOpenApiLimits, maxSchemaChars: 100 }),
      /paths\.\/pets\.get: the arguments schema is too large/,
    )
    await assert.rejects(
      load({}, { ...defaultOpenApiLimits, maxBytes: 100 }),
      /openapi\.yaml\): cannot be fetched: the document answered more than 100 bytes/,
    )
  })

  it('fetches a document within a deadline, refusing redirects and failures', async (t) => {
    const service = await petsService(t)
    const load = (path: string, fetchTimeoutMs = 5_000) =>
      loadOpenApiTools(
        { document: `${service.origin}${path}`, prefix: '', operations: { listPets: {} } },
        {
          configFile: '/etc/toolgate/tools.yaml',
          index: 2,
          secrets: [service.origin],
          taken: new Set(),
          limits: { ...defaultOpenApiLimits, fetchTimeoutMs },
        },
      )
    const started = performance.now()
    await assert.rejects(
      load('/slow', 200),
      (error) =>
        error instanceof ConfigFileError && /openapi\[2\] \(\[redacted\]\/slow\): was not fetched within 200 ms/.test(error.message),
    )
    assert.ok(performance.now() - started < 2_000)
    await assert.rejects(load('/moved.yaml'), /cannot be fetched: the document answered a redirect \(HTTP 302\)/)
    await assert.rejects(load('/api/v1/pets/busy'), /cannot be fetched: HTTP 503/)
    await assert.rejects(load('/api/v1/pets/7'), /\/api\/v1\/pets\/7\): is not an OpenAPI document \(an object\)/)
  })
})
