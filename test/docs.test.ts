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

  it('states one measured peak for the Kubernetes example, the same in the YAML, its README and this one', async () => {
    const figure = /peak RSS of (\d+) MiB/
    const yaml = await readFile(new URL('../examples/kubernetes/agent-with-toolgate.yaml', import.meta.url), 'utf8')
    const podReadme = await readFile(new URL('../examples/kubernetes/README.md', import.meta.url), 'utf8')
    const stated = figure.exec(yaml)?.[1]
    assert.ok(stated !== undefined, 'the YAML states the peak')
    for (const [name, text] of [
      ['the YAML', yaml],
      ['examples/kubernetes/README.md', podReadme],
      ['README.md', readme],
    ] as const) {
      const all = [
        ...text
          .replaceAll('**', '')
          .replaceAll(/\s+/g, ' ')
          .matchAll(/peak RSS of (\d+) MiB/g),
      ].map((match) => match[1])
      assert.ok(all.length > 0, `${name} states the peak`)
      assert.deepEqual(new Set(all), new Set([stated]), `${name} states the same peak`)
    }
  })

  it('gives the two set-up commands of the quick start', () => {
    assert.match(readme, /npm ci && npm start/)
    assert.match(readme, /npm ci && npm test/)
  })
})
