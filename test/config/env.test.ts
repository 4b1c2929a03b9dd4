import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, envSchema, loadConfig } from '../../src/config/env.ts'

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

  it('describes every variable it reads', () => {
    for (const [name, schema] of Object.entries(envSchema.shape)) {
      assert.ok(schema.description !== undefined && schema.description.length > 10, `${name} has a description`)
    }
  })
})
