import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assistantMessage, buildTestApp, captureLogs } from './helpers/app.ts'

const keys = 'key-alpha-4f1c9a,key-beta-7d2e0b'
const payload = assistantMessage([['c1', 'get_time', {}]])

describe('access control', () => {
  it('wants one of the API keys on every route but the health checks, with one identical 401 for every failure', async (t) => {
    const { logger, lines } = captureLogs('debug')
    const app = await buildTestApp(t, { env: { TOOLGATE_API_KEYS: keys }, logger })
    const execute = (authorization?: string) =>
      app.inject({ method: 'POST', url: '/execute', payload, headers: authorization === undefined ? {} : { authorization } })
    const missing = await execute()
    const wrong = await execute('Bearer key-alpha-4f1c9b')
    const notBearer = await execute('key-beta-7d2e0b')
    assert.deepEqual([missing.statusCode, wrong.statusCode, notBearer.statusCode], [401, 401, 401])
    assert.equal(wrong.body, missing.body)
    assert.equal(notBearer.body, missing.body)
    assert.equal((await execute('Bearer key-beta-7d2e0b')).statusCode, 200)
    assert.equal((await app.inject({ method: 'GET', url: '/tools' })).statusCode, 401)
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
    assert.ok(!JSON.stringify(lines).includes('key-beta-7d2e0b'), 'keys stay out of the logs')
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

  it('is open without keys, as on loopback by default', async (t) => {
    const app = await buildTestApp(t)
    assert.equal((await app.inject({ method: 'POST', url: '/execute', payload })).statusCode, 200)
  })
})
