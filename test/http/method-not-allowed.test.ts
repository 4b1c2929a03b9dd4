import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildTestApp, listen } from '../helpers/app.ts'

const apiKey = 'key-method-0123456789'

async function ask(base: string, method: string, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { method, headers })
  const text = await response.text()
  return {
    status: response.status,
    allow: response.headers.get('allow'),
    contentType: response.headers.get('content-type'),
    body: text === '' ? undefined : (JSON.parse(text) as { error: { code: string; message: string } }),
  }
}

describe('a known path asked with a method it does not have', () => {
  it('answers 405 method_not_allowed with Allow listing the methods the path has', async (t) => {
    const base = await listen(await buildTestApp(t))
    const execute = await ask(base, 'GET', '/execute')
    assert.equal(execute.status, 405)
    assert.equal(execute.allow, 'POST')
    assert.match(execute.contentType ?? '', /^application\/json/)
    assert.deepEqual(execute.body, {
      error: { code: 'method_not_allowed', message: 'This path does not take this method; it takes POST.' },
    })
    for (const [method, path, allow] of [
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/tools', 'GET, HEAD'],
      ['PUT', '/readyz', 'GET, HEAD'],
      ['PATCH', '/execute?mode=validate', 'POST'],
      ['POST', '/openapi.json', 'GET, HEAD'],
    ] as const) {
      const reply = await ask(base, method, path)
      assert.deepEqual([reply.status, reply.allow, reply.body?.error.code], [405, allow, 'method_not_allowed'], `${method} ${path}`)
    }
    // A HEAD has no body, but the status and Allow are the same.
    const head = await ask(base, 'HEAD', '/execute')
    assert.deepEqual([head.status, head.allow, head.body], [405, 'POST', undefined])
  })

  it('keeps HEAD where GET is, and 404 for a path no route has', async (t) => {
    const base = await listen(await buildTestApp(t))
    const head = await ask(base, 'HEAD', '/healthz')
    assert.deepEqual([head.status, head.allow], [200, null])
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['POST', '/executes'],
      ['DELETE', '/tools/get_time'],
    ] as const) {
      const reply = await ask(base, method, path)
      assert.deepEqual([reply.status, reply.allow, reply.body?.error.code], [404, null, 'not_found'], `${method} ${path}`)
    }
  })

  it('comes after access control, as a 404 does: without the API key, 401 whatever the path', async (t) => {
    const base = await listen(await buildTestApp(t, { env: { TOOLGATE_API_KEYS: apiKey } }))
    const authorization = `Bearer ${apiKey}`
    assert.equal((await ask(base, 'GET', '/execute')).status, 401)
    assert.equal((await ask(base, 'GET', '/nowhere')).status, 401)
    const withKey = await ask(base, 'GET', '/execute', { authorization })
    assert.deepEqual([withKey.status, withKey.allow, withKey.body?.error.code], [405, 'POST', 'method_not_allowed'])
    assert.equal((await ask(base, 'GET', '/nowhere', { authorization })).status, 404)
  })

  it('lists the admin route by the method it has', async (t) => {
    const base = await listen(await buildTestApp(t, { env: { TOOLGATE_ADMIN_KEY: 'admin-key-0123456789abcdef' } }))
    const reply = await ask(base, 'GET', '/admin/reload')
    assert.deepEqual([reply.status, reply.allow, reply.body?.error.code], [405, 'POST', 'method_not_allowed'])
  })
})
