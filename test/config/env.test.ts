import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { apiKeysFileSchema } from '../../src/access/api-keys.ts'
import { ConfigError, envSchema, loadConfig, minKeyChars } from '../../src/config/env.ts'

describe('configuration from the environment', () => {
  it('has embedded defaults for everything', () => {
    const config = loadConfig({})
    assert.equal(config.host, '127.0.0.1')
    assert.equal(config.port, 8080)
    assert.equal(config.concurrency, 64)
    assert.equal(config.maxBodyBytes, 4 * 1024 * 1024)
    assert.equal(config.openMeteoGeocodingUrl, 'https://geocoding-api.open-meteo.com')
    assert.equal(config.openMeteoForecastUrl, 'https://api.open-meteo.com')
  })

  it('reads and converts the variables, and takes an empty one as unset', () => {
    const config = loadConfig({ PORT: '9000', TOOLGATE_CONCURRENCY: '8', TOOLGATE_CALL_TIMEOUT_MS: '', HOST: '0.0.0.0' })
    assert.deepEqual([config.port, config.concurrency, config.callTimeoutMs, config.host], [9000, 8, 30_000, '0.0.0.0'])
  })

  it('refuses bad values with a message naming each variable and what it got', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', TOOLGATE_CONCURRENCY: '0', LOG_LEVEL: 'loud', OPEN_METEO_FORECAST_URL: 'not a url' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.match(error.message, /PORT="eighty": /)
        assert.match(error.message, /TOOLGATE_CONCURRENCY="0": Too small/)
        assert.match(error.message, /LOG_LEVEL="loud": /)
        assert.match(error.message, /OPEN_METEO_FORECAST_URL="not a url": /)
        return true
      },
    )
    assert.throws(() => loadConfig({ TOOLGATE_MAX_QUEUED_CALLS: '1.5' }), /TOOLGATE_MAX_QUEUED_CALLS="1.5"/)
  })

  it('refuses an API key or admin key shorter than the keys file allows, naming the variable, never the value', () => {
    const long = 'long-enough-key-0123456789'
    assert.throws(
      () => loadConfig({ TOOLGATE_API_KEYS: `${long}, shortkey-x7 ,tiny`, TOOLGATE_ADMIN_KEY: 'admin-q9', PORT: 'eighty' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.equal(
          error.message,
          [
            'Invalid configuration:',
            '  PORT="eighty": Invalid input: expected number, received NaN',
            '  TOOLGATE_API_KEYS (secret, value not shown): key 2 of 3 is too short; use at least 16 characters',
            '  TOOLGATE_API_KEYS (secret, value not shown): key 3 of 3 is too short; use at least 16 characters',
            '  TOOLGATE_ADMIN_KEY (secret, value not shown): use at least 16 characters',
          ].join('\n'),
        )
        for (const secret of [long, 'shortkey-x7', 'tiny', 'admin-q9']) assert.ok(!error.message.includes(secret), `${secret} is not shown`)
        return true
      },
    )
    assert.throws(() => loadConfig({ TOOLGATE_API_KEYS: 'short' }), /^ConfigError: Invalid configuration:\n {2}TOOLGATE_API_KEYS \(secret/)
    for (const empty of [',', ' , ,'])
      assert.throws(() => loadConfig({ TOOLGATE_API_KEYS: empty }), /TOOLGATE_API_KEYS \(secret, value not shown\): holds no key/)
    assert.deepEqual(loadConfig({ TOOLGATE_API_KEYS: ` ${long} ,${'k'.repeat(minKeyChars)}` }).apiKeys, [long, 'k'.repeat(minKeyChars)])
  })

  it('holds TOOLGATE_API_KEYS, TOOLGATE_ADMIN_KEY and the keys file to one minimum length', () => {
    assert.equal(minKeyChars, 16)
    const fileTakes = (key: string) => apiKeysFileSchema.safeParse({ keys: [{ name: 'a', key }] }).success
    for (const [length, taken] of [
      [minKeyChars - 1, false],
      [minKeyChars, true],
    ] as const) {
      const key = 'k'.repeat(length)
      assert.deepEqual(
        [
          fileTakes(key),
          envSchema.shape.TOOLGATE_API_KEYS.safeParse(key).success,
          envSchema.shape.TOOLGATE_ADMIN_KEY.safeParse(key).success,
        ],
        [taken, taken, taken],
        `a key of ${String(length)} characters`,
      )
    }
  })

  it('describes every variable it reads', () => {
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      assert.ok(schema.description !== undefined && schema.description.length > 10, `${name} has a description`)
    }
  })
})
