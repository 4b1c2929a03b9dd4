import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CallError } from '../../src/errors.ts'
import { parseArguments } from '../../src/batch/parse-arguments.ts'

const limits = { maxArgumentBytes: 1024, maxArgumentDepth: 4 }

function refusal(raw: unknown): CallError {
  try {
    parseArguments(raw, limits)
  } catch (error) {
    assert.ok(error instanceof CallError)
    assert.equal(error.code, 'invalid_arguments')
    return error
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be refused`)
}

describe('parseArguments', () => {
  it('parses a JSON object string', () => {
    assert.deepEqual(parseArguments('{"timezone":"Asia/Tokyo","n":[1,2]}', limits), { timezone: 'Asia/Tokyo', n: [1, 2] })
  })

  it('takes an empty string, blank string or missing arguments as {}', () => {
    assert.deepEqual(parseArguments('', limits), {})
    assert.deepEqual(parseArguments('  \n', limits), {})
    assert.deepEqual(parseArguments(undefined, limits), {})
  })

  it('accepts an object a client already parsed', () => {
    assert.deepEqual(parseArguments({ location: 'Paris' }, limits), { location: 'Paris' })
  })

  it('refuses text that is not JSON, saying so', () => {
    assert.match(refusal('{"timezone": "UTC"').message, /not valid JSON/)
    assert.match(refusal("{'a': 1}").message, /not valid JSON/)
  })

  it('refuses JSON that is not an object, naming what it got', () => {
    assert.match(refusal('[1,2]').message, /must be a JSON object, got an array/)
    assert.match(refusal('"Paris"').message, /got a string/)
    assert.match(refusal('null').message, /got null/)
    assert.match(refusal('42').message, /got a number/)
    assert.match(refusal(42).message, /got a number/)
    assert.match(refusal(null).message, /got null/)
  })

  it('refuses __proto__ and constructor keys at any depth, in strings and objects', () => {
    for (const raw of [
      '{"__proto__":{"polluted":true}}',
      '{"a":{"b":{"__proto__":{}}}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":[{"constructor":1}]}',
      JSON.parse('{"a":{"__proto__":{"polluted":true}}}') as unknown,
    ]) {
      assert.match(refusal(raw).message, /__proto__" or "constructor/)
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  it('refuses arguments larger than the byte limit, counting UTF-8 bytes', () => {
    const ascii = JSON.stringify({ text: 'x'.repeat(1100) })
    assert.match(refusal(ascii).message, /bytes, more than the limit of 1024/)
    // 400 three-byte characters: 400 characters, but 1200+ bytes
    assert.match(refusal(JSON.stringify({ text: '€'.repeat(400) })).message, /more than the limit/)
    assert.match(refusal({ text: 'x'.repeat(1100) }).message, /more than the limit/)
  })

  it('refuses nesting deeper than the depth limit, without overflowing the stack', () => {
    assert.deepEqual(parseArguments('{"a":{"b":{"c":1}}}', limits), { a: { b: { c: 1 } } })
    assert.match(refusal('{"a":{"b":{"c":{"d":{}}}}}').message, /deeper than the limit of 4/)
    assert.match(refusal('{"a":[[[[1]]]]}').message, /deeper than the limit/)
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
    const hugeLimits = { maxArgumentBytes: 1_000_000, maxArgumentDepth: 32 }
    assert.throws(() => parseArguments(deep, hugeLimits), /deeper than the limit of 32/)
  })
})
