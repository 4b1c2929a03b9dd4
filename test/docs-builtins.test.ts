import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { parseConfigFile } from '../src/config/tools-file.ts'
import { createBuiltinTools } from '../src/tools/builtin/builtin-tools.ts'
import { openMeteoRateLimits, placeCacheDefaults } from '../src/tools/builtin/get-weather.ts'
import { testConfig } from './helpers/app.ts'
import { fencedBlock } from './examples/commands.ts'

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
const builtins = createBuiltinTools(testConfig())
const seconds = (ms: number) => `${String(ms / 1000)} s`

describe("README's Built-in tools", () => {
  it("states each built-in tool's own limits as the tool sets them", () => {
    for (const tool of builtins) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${tool.name}\` |`))
      assert.ok(row, `a row for ${tool.name}`)
      const limits = row.split(' | ').at(-1)?.replace(/ \|$/, '') ?? ''
      const stated = [
        tool.timeoutMs === undefined ? 'no deadline of its own' : `deadline ${seconds(tool.timeoutMs)}`,
        ...(tool.attemptTimeoutMs === undefined ? [] : [`${seconds(tool.attemptTimeoutMs)} per attempt`]),
        (tool.retries ?? 0) === 0 ? 'no retry' : `${String(tool.retries)} retries`,
        ...(tool.concurrency === undefined ? [] : [`${String(tool.concurrency)} calls at once`]),
      ]
      for (const part of stated) assert.ok(limits.includes(part), `${tool.name}: "${part}" in "${limits}"`)
    }
  })

  it("states get_weather's rate limits and place cache as the tool sets them", () => {
    const row = readme.split('\n').find((line) => line.startsWith('| `get_weather` |')) ?? ''
    const windows: Record<number, string> = { 60_000: 'a minute', 3_600_000: 'an hour', 86_400_000: 'a day' }
    const limits = openMeteoRateLimits.map(
      ({ requests, perMs }) => `${requests.toLocaleString('en')} ${windows[perMs] ?? `per ${String(perMs)} ms`}`,
    )
    assert.ok(row.includes(`at most ${limits.join(', ')}`), `"at most ${limits.join(', ')}" in "${row}"`)
    const cache = `places found remembered (${placeCacheDefaults.max.toLocaleString('en')}, ${String(placeCacheDefaults.ttlMs / 3_600_000)} h)`
    assert.ok(row.includes(cache), `"${cache}" in "${row}"`)
  })

  it('gives a builtins.overrides example that a configuration file accepts', () => {
    const example = fencedBlock(readme, '### Built-in tools', 'yaml').join('\n')
    const { config } = parseConfigFile(example, 'README.md', {})
    const names = new Set(builtins.map((tool) => tool.name))
    assert.ok(Object.keys(config.builtins.overrides).length > 0)
    for (const name of Object.keys(config.builtins.overrides)) assert.ok(names.has(name), `${name} is a built-in tool`)
  })
})
