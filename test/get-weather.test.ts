import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../src/format-reply.ts'
import { createGetWeather } from '../src/tools/get-weather.ts'
import type { Tool } from '../src/tool.ts'
import { assistantMessage, buildTestApp, listen } from './helpers/app.ts'
import { startOpenMeteoStub, type OpenMeteoStub } from './helpers/open-meteo-stub.ts'

interface Weather {
  location: { name: string; region: string; country: string; country_code: string; latitude: number; longitude: number; timezone: string }
  current: Record<string, unknown>
  source: string
}

async function gateway(t: TestContext, options: { tools?: (stub: OpenMeteoStub) => Tool[] } = {}) {
  const stub = await startOpenMeteoStub()
  t.after(() => stub.close())
  const app = await buildTestApp(t, {
    env: { OPEN_METEO_GEOCODING_URL: stub.url, OPEN_METEO_FORECAST_URL: stub.url },
    random: () => 0,
    ...(options.tools ? { tools: options.tools(stub) } : {}),
  })
  const base = await listen(app)
  const weather = async (args: unknown) => {
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(assistantMessage([['call_weather', 'get_weather', args]])),
    })
    assert.equal(response.status, 200)
    const reply = (await response.json()) as ExecuteReply
    const [result] = reply.results
    assert.ok(result)
    return { reply, result, content: reply.messages[0]?.content ?? '' }
  }
  return { stub, weather }
}

/** A loopback URL nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return `http://127.0.0.1:${String(port)}`
}

describe('get_weather against a local Open-Meteo stand-in', () => {
  it('answers the current weather with the place it resolved', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result, content } = await weather({ location: 'Paris' })
    assert.equal(result.ok, true)
    const output = result.output as Weather
    assert.deepEqual(output.location, {
      name: 'Paris',
      region: 'Île-de-France',
      country: 'France',
      country_code: 'FR',
      latitude: 48.85341,
      longitude: 2.3488,
      timezone: 'Europe/Paris',
    })
    assert.deepEqual(output.current, {
      time: '2026-11-24T10:15',
      temperature: 7.1,
      apparent_temperature: 4.2,
      temperature_unit: '°C',
      relative_humidity_percent: 81,
      conditions: 'overcast',
      weather_code: 3,
      wind_speed: 12.3,
      wind_speed_unit: 'km/h',
      wind_direction_degrees: 230,
    })
    assert.equal(output.source, new URL(stub.url).host)
    assert.equal(content, JSON.stringify(output))
    const [search, forecast] = stub.requests
    assert.equal(search?.path, '/v1/search')
    assert.deepEqual(Object.fromEntries(search.query), { name: 'Paris', count: '1', language: 'en', format: 'json' })
    assert.equal(forecast?.path, '/v1/forecast')
    assert.deepEqual(Object.fromEntries(forecast.query), {
      latitude: '48.85341',
      longitude: '2.3488',
      current: 'temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,wind_speed_10m,wind_direction_10m',
      temperature_unit: 'celsius',
      wind_speed_unit: 'kmh',
      timezone: 'auto',
    })
  })

  it('asks for fahrenheit and mph when told to', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result } = await weather({ location: 'Tokyo', unit: 'fahrenheit' })
    const output = result.output as Weather
    assert.deepEqual([output.current.temperature, output.current.temperature_unit, output.current.wind_speed_unit], [44.8, '°F', 'mph'])
    assert.equal(stub.requests[1]?.query.get('wind_speed_unit'), 'mph')
  })

  it('narrows "Paris, Texas" to the place whose region or country matches', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result } = await weather({ location: 'Paris, Texas' })
    assert.equal((result.output as Weather).location.country_code, 'US')
    assert.equal(stub.requests[0]?.query.get('name'), 'Paris')
    assert.equal(stub.requests[0].query.get('count'), '10')
    const us = await weather({ location: 'paris, us' })
    assert.equal((us.result.output as Weather).location.region, 'Texas')
  })

  it('tells the model which places it found when the qualifier matches none', async (t) => {
    const { weather } = await gateway(t)
    const { result, content } = await weather({ location: 'Paris, Narnia' })
    assert.equal(result.error?.code, 'tool_error')
    assert.equal(
      result.error.message,
      'no place named "Paris" in "narnia"; places with that name: Paris, Île-de-France, France; Paris, Texas, United States',
    )
    assert.deepEqual(JSON.parse(content), { error: result.error })
  })

  it('answers tool_error for a place that does not exist, without retrying', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result } = await weather({ location: 'Atlantis' })
    assert.equal(result.error?.code, 'tool_error')
    assert.match(result.error.message, /no place named "Atlantis" was found/)
    assert.equal(result.attempts, 1)
    assert.equal(stub.requests.length, 1)
  })

  it('retries an upstream 503 and 429, then succeeds', async (t) => {
    const { stub, weather } = await gateway(t)
    stub.failNext('unavailable')
    stub.failNext('rate_limited')
    const { result } = await weather({ location: 'Paris' })
    assert.equal(result.ok, true)
    assert.equal(result.attempts, 3)
  })

  it('gives up after its retries, saying the upstream is unavailable', async (t) => {
    const { stub, weather } = await gateway(t)
    stub.failNext('unavailable', 3)
    const { result } = await weather({ location: 'Paris' })
    assert.equal(result.error?.code, 'tool_error')
    assert.equal(result.error.message, 'the Open-Meteo geocoding API is unavailable (HTTP 503)')
    assert.equal(result.attempts, 3)
  })

  it('does not retry a 400, and passes on the reason Open-Meteo gave', async (t) => {
    const { stub, weather } = await gateway(t)
    stub.failNext('bad_request')
    const { result } = await weather({ location: 'Paris' })
    assert.equal(result.error?.message, 'the Open-Meteo geocoding API refused the request (HTTP 400): Parameter count must be between 1 and 100')
    assert.equal(result.attempts, 1)
  })

  it('answers tool_error for a body that is not JSON, or too large, without retrying', async (t) => {
    const { stub, weather } = await gateway(t)
    stub.failNext('garbage')
    const garbage = await weather({ location: 'Paris' })
    assert.equal(garbage.result.error?.message, 'the Open-Meteo geocoding API answered HTTP 200 with a body that is not JSON')
    stub.failNext('huge')
    const huge = await weather({ location: 'Paris' })
    assert.equal(huge.result.error?.message, 'the Open-Meteo geocoding API answered more than 1048576 bytes')
    assert.deepEqual([garbage.result.attempts, huge.result.attempts], [1, 1])
  })

  it('answers tool_error after its retries when the upstream cannot be reached', async (t) => {
    const closed = await closedPort()
    const { weather } = await gateway(t, {
      tools: () => [createGetWeather({ geocodingUrl: closed, forecastUrl: closed })],
    })
    const { result } = await weather({ location: 'Paris' })
    assert.equal(result.error?.code, 'tool_error')
    assert.match(result.error.message, /^the Open-Meteo geocoding API is unreachable: .*ECONNREFUSED/)
    assert.equal(result.attempts, 3)
  })

  it('cuts a hanging upstream at the attempt timeout, retries, and answers timeout at the deadline', async (t) => {
    const { weather } = await gateway(t, {
      tools: (stub) => {
        stub.failNext('hang', 10)
        return [{ ...createGetWeather({ geocodingUrl: stub.url, forecastUrl: stub.url }), timeoutMs: 400, attemptTimeoutMs: 100 }]
      },
    })
    const { result } = await weather({ location: 'Paris' })
    assert.equal(result.error?.code, 'timeout')
    assert.ok(result.attempts >= 2, `attempts: ${String(result.attempts)}`)
  })

  it('refuses invalid arguments before calling the upstream', async (t) => {
    const { stub, weather } = await gateway(t)
    const missing = await weather({})
    assert.equal(missing.result.error?.code, 'invalid_arguments')
    assert.match(missing.result.error.message, /arguments\.location: /)
    const kelvin = await weather({ location: 'Paris', unit: 'kelvin' })
    assert.match(kelvin.result.error?.message ?? '', /arguments\.unit: Invalid option: expected one of "celsius"\|"fahrenheit"/)
    const extra = await weather({ location: 'Paris', days: 3 })
    assert.match(extra.result.error?.message ?? '', /Unrecognized key: "days"/)
    assert.equal(stub.requests.length, 0)
  })
})
