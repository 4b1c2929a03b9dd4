import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { ConfigFileError } from '../../src/config/yaml-file.ts'
import { assistantMessage, buildTestApp, captureLogs } from '../helpers/app.ts'

const keys = 'key-alpha-4f1c9a,key-beta-7d2e0b91'
const payload = assistantMessage([['c1', 'get_time', {}]])

describe('access control', () => {
  it('wants one of the API keys on every route but the health checks, with one identical 401 for every failure', async (t) => {
    const { logger, lines } = captureLogs('debug')
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS: keys }, logger })
    const execute = (authorization?: string) =>
      app.inject({ method: 'POST', url: '/execute', payload, headers: authorization === undefined ? {} : { authorization } })
    const missing = await execute()
    const wrong = await execute('Bearer key-alpha-4f1c9b')
    const notBearer = await execute('key-beta-7d2e0b91')
    assert.deepEqual([missing.statusCode, wrong.statusCode, notBearer.statusCode], [401, 401, 401])
    assert.equal(wrong.body, missing.body)
    assert.equal(notBearer.body, missing.body)
    assert.equal((await execute('Bearer key-beta-7d2e0b91')).statusCode, 200)
    assert.equal((await app.inject({ method: 'GET', url: '/tools' })).statusCode, 401)
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
    assert.ok(!JSON.stringify(lines).includes('key-beta-7d2e0b91'), 'keys stay out of the logs')
  })

  it('refuses a browser origin that is not on the allowlist, and lets requests without Origin through', async (t) => {
    const app = await buildTestApp(t, { env: { TOOLGATE_ALLOWED_ORIGINS: 'https://agent.example' } })
    const from = (origin?: string) =>
      app.inject({ method: 'POST', url: '/execute', payload, headers: origin === undefined ? {} : { origin } })
    assert.equal((await from('https://agent.example')).statusCode, 200)
    const other = await from('https://evil.example')
    assert.equal(other.statusCode, 403)
    assert.equal(other.json<{ error: { code: string } }>().error.code, 'forbidden_origin')
    assert.equal((await from()).statusCode, 200)
  })

  it('opens /metrics without a key when TOOLGATE_METRICS_WITHOUT_KEY is true, and only /metrics', async (t) => {
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS: keys, TOOLGATE_METRICS_WITHOUT_KEY: 'true' } })
    assert.equal((await app.inject({ url: '/metrics' })).statusCode, 200)
    assert.equal((await app.inject({ url: '/tools' })).statusCode, 401)
    const closed = await buildTestApp(t, { env: { TOOLGATE_API_KEYS: keys } })
    assert.equal((await closed.inject({ url: '/metrics' })).statusCode, 401)
  })

  it('is open without keys, as on loopback by default', async (t) => {
    const app = await buildTestApp(t)
    assert.equal((await app.inject({ method: 'POST', url: '/execute', payload })).statusCode, 200)
  })
})

describe('API keys from a file', () => {
  async function keysFile(t: TestContext, text: string): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-keys-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    const path = join(directory, 'keys.yaml')
    await writeFile(path, text)
    return path
  }
  const file = `keys:
  - name: clock-agent
    key: \${CLOCK_AGENT_KEY}
    tools: [get_time]
  - name: ops
    key: ops-key-0123456789abcdef
`

  it('limits a key to its tools: the others answer forbidden_tool and are hidden from its GET /tools', async (t) => {
    process.env.CLOCK_AGENT_KEY = 'clock-key-0123456789abcdef'
    t.after(() => delete process.env.CLOCK_AGENT_KEY)
    const { logger, lines } = captureLogs('info')
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS_FILE: await keysFile(t, file) }, logger })
    const clock = { authorization: 'Bearer clock-key-0123456789abcdef' }
    const ops = { authorization: 'Bearer ops-key-0123456789abcdef' }
    const both = assistantMessage([
      ['c1', 'get_time', { timezone: 'UTC' }],
      ['c2', 'get_date', {}],
      ['c3', 'get_dat', {}],
    ])

    const limited = await app.inject({ method: 'POST', url: '/execute', payload: both, headers: clock })
    const reply = limited.json<{ status: string; results: Array<{ error?: { code: string; message: string } }> }>()
    assert.equal(reply.status, 'partial')
    assert.deepEqual(
      reply.results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'forbidden_tool', 'unknown_tool'],
    )
    assert.equal(reply.results[1]?.error?.message, 'this API key may not call get_date. Tools it may call: get_time.')
    assert.doesNotMatch(reply.results[2]?.error?.message ?? '', /get_date/, 'an unknown name is not matched against hidden tools')
    const validated = await app.inject({ method: 'POST', url: '/execute?mode=validate', payload: both, headers: clock })
    assert.equal(validated.json<{ results: Array<{ error?: { code: string } }> }>().results[1]?.error?.code, 'forbidden_tool')

    const toolsOf = async (headers: Record<string, string>) =>
      (await app.inject({ url: '/tools', headers })).json<Array<{ function: { name: string } }>>().map((tool) => tool.function.name)
    assert.deepEqual(await toolsOf(clock), ['get_time'])
    assert.deepEqual(await toolsOf(ops), ['get_time', 'get_date', 'get_weather'])
    const all = await app.inject({ method: 'POST', url: '/execute', payload: assistantMessage([['c2', 'get_date', {}]]), headers: ops })
    assert.equal(all.json<{ status: string }>().status, 'complete')

    const logged = JSON.stringify(lines)
    assert.ok(logged.includes('"caller":"clock-agent"'), 'requests are logged with the key name')
    assert.ok(!logged.includes('clock-key-0123456789abcdef') && !logged.includes('ops-key-0123456789abcdef'), 'keys stay out of the logs')
  })

  it('refuses to start on a bad keys file, naming the line, and on a key given twice', async (t) => {
    const short = await keysFile(t, 'keys:\n  - name: a\n    key: short\n')
    await assert.rejects(buildTestApp(t, { env: { TOOLGATE_API_KEYS_FILE: short } }), (error: unknown) => {
      assert.ok(error instanceof ConfigFileError)
      assert.match(error.message, /keys\.yaml:3:10: keys\[0\]\.key: use at least 16 characters/)
      return true
    })
    const twice = await keysFile(t, 'keys:\n  - name: a\n    key: same-key-0123456789\n  - name: b\n    key: same-key-0123456789\n')
    await assert.rejects(buildTestApp(t, { env: { TOOLGATE_API_KEYS_FILE: twice } }), /the key named "b" is given twice/)
  })
})

describe('rate limits', () => {
  it('answers 429 rate_limited with Retry-After past a key’s limit, counting each key apart, never the probes', async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-keys-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    const path = join(directory, 'keys.json')
    await writeFile(
      path,
      JSON.stringify({
        keys: [
          { name: 'tight', key: 'tight-key-0123456789', rateLimitPerMinute: 2 },
          { name: 'loose', key: 'loose-key-0123456789' },
        ],
      }),
    )
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS_FILE: path, TOOLGATE_RATE_LIMIT_PER_MINUTE: '5' } })
    const execute = (key: string) => app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization: `Bearer ${key}` } })

    const tight = [await execute('tight-key-0123456789'), await execute('tight-key-0123456789'), await execute('tight-key-0123456789')]
    assert.deepEqual(
      tight.map((response) => response.statusCode),
      [200, 200, 429],
    )
    const refused = tight[2]
    assert.ok(refused)
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'rate_limited')
    assert.ok(Number(refused.headers['retry-after']) >= 1 && Number(refused.headers['retry-after']) <= 60)
    const loose: number[] = []
    for (let index = 0; index < 6; index++) loose.push((await execute('loose-key-0123456789')).statusCode)
    assert.deepEqual(loose, [200, 200, 200, 200, 200, 429], 'the server-wide limit applies to a key without its own')
    for (let index = 0; index < 10; index++) assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
    assert.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer tight-key-0123456789' } })).statusCode, 200)
  })

  it('keeps the counts of TOOLGATE_RATE_LIMIT_TRACKED_CALLERS callers at most: the least recently seen starts again', async (t) => {
    const keys = Array.from({ length: 102 }, (_, index) => `tracked-key-${String(index).padStart(4, '0')}-0123456789`)
    const app = await buildTestApp(t, {
      env: { TOOLGATE_API_KEYS: keys.join(','), TOOLGATE_RATE_LIMIT_PER_MINUTE: '1', TOOLGATE_RATE_LIMIT_TRACKED_CALLERS: '100' },
    })
    const execute = async (key: string) =>
      (await app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization: `Bearer ${key}` } })).statusCode
    const [first = '', ...others] = keys
    assert.deepEqual([await execute(first), await execute(first)], [200, 429])
    // 100 other callers since: the first is no longer among those the limiter keeps.
    for (const key of others.slice(0, 100)) assert.equal(await execute(key), 200)
    assert.equal(await execute(first), 200, 'forgotten, so counted from 0 again')
    assert.equal(await execute(others[99] ?? ''), 429, 'one seen lately is still counted')
  })
})

describe('reloading the keys file', () => {
  it('puts new keys in force on reload, and keeps the old ones when the new file is invalid', async (t) => {
    const directory = await mkdtemp(join(tmpdir(), 'toolgate-keys-'))
    t.after(() => rm(directory, { recursive: true, force: true }))
    const path = join(directory, 'keys.yaml')
    await writeFile(path, 'keys:\n  - { name: old, key: old-key-0123456789abcdef }\n')
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS_FILE: path } })
    const statusWith = async (key: string) =>
      (await app.inject({ method: 'POST', url: '/execute', payload, headers: { authorization: `Bearer ${key}` } })).statusCode

    assert.equal(await statusWith('old-key-0123456789abcdef'), 200)
    await writeFile(path, 'keys:\n  - { name: new, key: new-key-0123456789abcdef, tools: [get_date] }\n')
    await app.reloadTools()
    assert.equal(await statusWith('old-key-0123456789abcdef'), 401, 'a key taken out of the file no longer opens')
    assert.equal(await statusWith('new-key-0123456789abcdef'), 200)
    const tools = await app.inject({ url: '/tools', headers: { authorization: 'Bearer new-key-0123456789abcdef' } })
    assert.deepEqual(
      tools.json<Array<{ function: { name: string } }>>().map((tool) => tool.function.name),
      ['get_date'],
    )

    await writeFile(path, 'keys:\n  - { name: broken, key: short }\n')
    await assert.rejects(app.reloadTools(), ConfigFileError)
    assert.equal(await statusWith('new-key-0123456789abcdef'), 200, 'a refused reload changes nothing')
  })
})
