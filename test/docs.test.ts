import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { envSchema } from '../src/config/env.ts'
import { callErrorCodes, requestErrorCodes } from '../src/errors.ts'

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')

describe('README', () => {
  it('documents every environment variable with its default', () => {
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      const byDefault = schema.parse(undefined)
      const shown = byDefault === undefined ? '(unset)' : `\`${String(byDefault)}\``
      assert.ok(readme.includes(`| \`${name}\` | ${shown} |`), `${name} (default ${shown}) is in the configuration table`)
    }
  })

  it('documents every error code, with its HTTP status for refused requests', () => {
    for (const code of Object.keys(callErrorCodes)) assert.ok(readme.includes(`| \`${code}\` |`), `call error ${code}`)
    for (const [code, { status }] of Object.entries(requestErrorCodes)) {
      assert.ok(readme.includes(`| ${String(status)} | \`${code}\` |`), `request error ${code} (${String(status)})`)
    }
  })

  it('gives the two set-up commands of the quick start', () => {
    assert.match(readme, /npm ci && npm start/)
    assert.match(readme, /npm ci && npm test/)
  })
})
