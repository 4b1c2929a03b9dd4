import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { setTimeout } from 'node:timers/promises'
import type { ExecuteReply } from '../../../src/batch/format-reply.ts'
import type { Tool } from '../../../src/tools/tool.ts'
import { createGetWeather, openMeteoRateLimits, type WeatherOptions } from '../../../src/tools/builtin/get-weather.ts'
import { assistantMessage, buildTestApp, listen, type CallSpec } from '../../helpers/app.ts'
import { startOpenMeteoStubFor, type OpenMeteoStub } from '../../helpers/open-meteo-stub.ts'

type Weather = Awaited<ReturnType<ReturnType<typeof createGetWeather>['execute']>>
type Result = ExecuteReply['results'][number]

const currentVariables = 'temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,wind_speed_10m,wind_direction_10m'

/**
 * The real gateway over HTTP, get_weather pointed at a local Open-Meteo stand-in, backoff instant.
 * `tools` replaces the built-in tools, e.g. with a get_weather of shorter timeouts.
 */
async function gateway(t: TestContext, options: { tools?: (stub: OpenMeteoStub) => Tool[]; env?: Record<string, string> } = {}) {
  const stub = await startOpenMeteoStubFor(t)
  const app = await buildTestApp(t, {
    env: { OPEN_METEO_GEOCODING_URL: stub.geocodingUrl, OPEN_METEO_FORECAST_URL: stub.forecastUrl, ...options.env },
    random: () => 0,
    ...(options.tools ? { tools: options.tools(stub) } : {}),
  })
  const base = await listen(app)

  /** POSTs one assistant message to /execute; checks each tool message carries its result. */
  const execute = async (calls: CallSpec[]) => {
    const response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(assistantMessage(calls)),
    })
    assert.equal(response.status, 200)
    const reply = (await response.json()) as ExecuteReply
    assert.equal(reply.results.length, calls.length)
    reply.results.forEach((result, index) => {
      const message = reply.messages[index]
      assert.ok(message)
      assert.equal(message.tool_call_id, calls[index]?.[0])
      if (result.ok) assert.equal(message.content, JSON.stringify(result.output))
      else assert.deepEqual(JSON.parse(message.content), { error: { code: result.error?.code, message: result.error?.message } })
    })
    return reply
  }

  /** One get_weather call: its result, and its output when it succeeded. */
  const weather = async (args: unknown): Promise<{ result: Result; output: Weather }> => {
    const [result] = (await execute([['call_weather', 'get_weather', args]])).results
    assert.ok(result)
    return { result, output: result.output as Weather }
  }

  return { stub, weather, execute }
}

/** A get_weather with short deadlines, asking `stub`. */
function quickWeather(stub: OpenMeteoStub, timeouts: { timeoutMs: number; attemptTimeoutMs: number }, options: WeatherOptions = {}): Tool {
  return { ...createGetWeather({ geocodingUrl: stub.geocodingUrl, forecastUrl: stub.forecastUrl }, options), ...timeouts }
}

/** A get_weather with its usual deadlines and these options, asking `stub`. */
function weatherWith(stub: OpenMeteoStub, options: WeatherOptions): Tool {
  return createGetWeather({ geocodingUrl: stub.geocodingUrl, forecastUrl: stub.forecastUrl }, options)
}

/** A loopback URL nothing listens on. */
/**
 * An address nothing listens on: a low port (fetch refuses port 1 as unsafe), not one freed a
 * moment ago, which another test file's server listening on port 0 may be given at once.
 */
const closedAddress = 'http://127.0.0.1:2'

const paths = (stub: OpenMeteoStub) => stub.requests.map((request) => request.path)

describe('get_weather', () => {
  it('answers the current weather with the place it resolved', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result, output } = await weather({ location: 'Paris' })
    assert.equal(result.ok, true)
    assert.equal(result.attempts, 1)
    assert.deepEqual(output, {
      location: {
        name: 'Paris',
        region: 'Île-de-France',
        country: 'France',
        country_code: 'FR',
        latitude: 48.85341,
        longitude: 2.3488,
        timezone: 'Europe/Paris',
      },
      current: {
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
      },
      source: new URL(stub.forecastUrl).host,
    })
  })

  it('geocodes first, then asks the forecast for those coordinates, in celsius and km/h', async (t) => {
    const { stub, weather } = await gateway(t)
    await weather({ location: '  Paris ' })
    assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast'])
    const [search, forecast] = stub.requests
    assert.equal(search?.method, 'GET')
    assert.deepEqual(Object.fromEntries(search.query), { name: 'Paris', count: '1', language: 'en', format: 'json' })
    assert.equal(forecast?.method, 'GET')
    assert.deepEqual(Object.fromEntries(forecast.query), {
      latitude: '48.85341',
      longitude: '2.3488',
      current: currentVariables,
      temperature_unit: 'celsius',
      wind_speed_unit: 'kmh',
      timezone: 'auto',
    })
  })

  it('answers in fahrenheit and mph when told to', async (t) => {
    const { stub, weather } = await gateway(t)
    const { output } = await weather({ location: 'Tokyo', unit: 'fahrenheit' })
    assert.equal(output.location.country_code, 'JP')
    assert.deepEqual([output.current.temperature, output.current.apparent_temperature, output.current.temperature_unit], [44.8, 39.6, '°F'])
    assert.deepEqual([output.current.wind_speed, output.current.wind_speed_unit], [7.6, 'mph'])
    const forecast = stub.requests[1]?.query
    assert.deepEqual(
      [forecast?.get('latitude'), forecast?.get('longitude'), forecast?.get('temperature_unit'), forecast?.get('wind_speed_unit')],
      ['35.6895', '139.69171', 'fahrenheit', 'mph'],
    )
  })

  it('answers which Paris it resolved: "Paris, Texas" and "paris, us" are the one in Texas', async (t) => {
    const { stub, weather } = await gateway(t)
    const texas = await weather({ location: 'Paris, Texas' })
    assert.deepEqual(
      [texas.output.location.name, texas.output.location.region, texas.output.location.country_code],
      ['Paris', 'Texas', 'US'],
    )
    // A qualified name searches wider, so that the one asked for is among the candidates.
    assert.deepEqual(Object.fromEntries(stub.requests[0]?.query ?? []), { name: 'Paris', count: '10', language: 'en', format: 'json' })
    assert.deepEqual([stub.requests[1]?.query.get('latitude'), stub.requests[1]?.query.get('longitude')], ['33.66094', '-95.55551'])
    const us = await weather({ location: 'paris, us' })
    assert.equal(us.output.location.region, 'Texas')
    const france = await weather({ location: 'Paris, France' })
    assert.equal(france.output.location.country_code, 'FR')
    const both = await weather({ location: 'Paris, Texas, US' })
    assert.equal(both.output.location.region, 'Texas')
  })

  it('refuses a location with nothing before its comma, without calling the upstream', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result } = await weather({ location: ', Texas' })
    assert.equal(result.error?.code, 'invalid_arguments')
    assert.match(result.error.message, /arguments\.location: start with a place name/)
    assert.deepEqual(stub.requests, [])
  })

  it('lists the places it found when the qualifier matches none of them', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result } = await weather({ location: 'Paris, Narnia' })
    assert.equal(result.ok, false)
    assert.deepEqual(result.error, {
      code: 'tool_error',
      message: 'no place named "Paris" in "narnia"; places with that name: Paris, Île-de-France, France; Paris, Texas, United States',
    })
    assert.equal(result.attempts, 1)
    assert.deepEqual(paths(stub), ['/v1/search'])
  })

  it('answers tool_error for a place that does not exist, without retrying or asking the forecast', async (t) => {
    const { stub, weather } = await gateway(t)
    const { result } = await weather({ location: 'Atlantis' })
    assert.equal(result.ok, false)
    assert.deepEqual(result.error, {
      code: 'tool_error',
      message: 'no place named "Atlantis" was found; check the spelling or try a nearby city',
    })
    assert.equal(result.attempts, 1)
    assert.deepEqual(paths(stub), ['/v1/search'])
  })

  it('answers several places called at once, each with its own', async (t) => {
    const { execute } = await gateway(t)
    const reply = await execute([
      ['call_paris', 'get_weather', { location: 'Paris' }],
      ['call_tokyo', 'get_weather', { location: 'Tokyo, JP' }],
      ['call_texas', 'get_weather', { location: 'Paris, Texas', unit: 'fahrenheit' }],
    ])
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.results.map((result) => {
        const { location, current } = result.output as Weather
        return `${result.id}: ${location.name}, ${String(location.country_code)} ${current.temperature_unit}`
      }),
      ['call_paris: Paris, FR °C', 'call_tokyo: Tokyo, JP °C', 'call_texas: Paris, US °F'],
    )
  })

  it('refuses invalid arguments with their path, before asking the upstream', async (t) => {
    const { stub, weather } = await gateway(t)
    const missing = await weather({})
    assert.equal(missing.result.error?.code, 'invalid_arguments')
    assert.match(missing.result.error.message, /arguments\.location: /)
    assert.equal(missing.result.attempts, 0)
    const blank = await weather({ location: '   ' })
    assert.equal(blank.result.error?.code, 'invalid_arguments')
    assert.match(blank.result.error.message, /arguments\.location: /)
    const kelvin = await weather({ location: 'Paris', unit: 'kelvin' })
    assert.equal(kelvin.result.error?.code, 'invalid_arguments')
    assert.match(kelvin.result.error.message, /arguments\.unit: Invalid option: expected one of "celsius"\|"fahrenheit"/)
    const extra = await weather({ location: 'Paris', days: 3 })
    assert.equal(extra.result.error?.code, 'invalid_arguments')
    assert.match(extra.result.error.message, /Unrecognized key: "days"/)
    assert.deepEqual(stub.requests, [])
  })

  it('keeps the path of a base URL it is given, as the configuration says it appends /v1/search', async (t) => {
    const { stub, weather } = await gateway(t, {
      tools: (stub) => [createGetWeather({ geocodingUrl: `${stub.url}/geo/`, forecastUrl: `${stub.url}/weather/` })],
    })
    await weather({ location: 'Paris' })
    assert.deepEqual(paths(stub), ['/geo/v1/search', '/weather/v1/forecast'])
  })

  describe('many calls, repeated places, and what protects Open-Meteo', () => {
    it('runs the twelve calls of one batch at once: no cap of its own', async (t) => {
      const { stub, execute } = await gateway(t)
      stub.latencyMs = 200
      const locations = ['Paris', 'Tokyo', 'Paris, Texas']
      const calls = Array.from({ length: 12 }, (_, index): CallSpec => [
        `call_${String(index)}`,
        'get_weather',
        { location: locations[index % 3] },
      ])
      const started = performance.now()
      const reply = await execute(calls)
      const wallMs = performance.now() - started
      assert.equal(reply.status, 'complete')
      assert.ok(reply.results.every((result) => result.ok))
      // Nothing is remembered yet, so each call geocodes: all twelve at the stand-in together.
      assert.equal(stub.maxInFlight, 12)
      assert.equal(paths(stub).length, 24)
      assert.ok(wallMs < 3 * stub.latencyMs, `one wave of geocoding and one of forecasts, not more: ${String(Math.round(wallMs))} ms`)
    })

    it('remembers a place it found, by name with case and spaces aside, and geocodes it once', async (t) => {
      const { stub, weather } = await gateway(t)
      const first = await weather({ location: 'Paris' })
      const again = await weather({ location: '  PARIS ' })
      assert.equal(again.result.ok, true)
      assert.deepEqual(again.output.location, first.output.location)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast', '/v1/forecast'])
      // Another place of that name is another key; it too is asked once.
      const texas = await weather({ location: 'Paris, Texas' })
      const texasAgain = await weather({ location: 'paris ,  TEXAS' })
      assert.equal(texas.output.location.country_code, 'US')
      assert.deepEqual(texasAgain.output.location, texas.output.location)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast', '/v1/forecast', '/v1/search', '/v1/forecast', '/v1/forecast'])
    })

    it('does not remember a place it did not find, nor a failed geocoding', async (t) => {
      const { stub, weather } = await gateway(t)
      assert.equal((await weather({ location: 'Atlantis' })).result.error?.code, 'tool_error')
      assert.equal((await weather({ location: 'atlantis' })).result.error?.code, 'tool_error')
      stub.failNext('unavailable', 3, '/v1/search')
      assert.equal((await weather({ location: 'Tokyo' })).result.error?.code, 'tool_error')
      assert.equal((await weather({ location: 'Tokyo' })).result.ok, true)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/search', '/v1/search', '/v1/search', '/v1/search', '/v1/search', '/v1/forecast'])
    })

    it('forgets places past its time to live and past its size, least recently used first', async (t) => {
      const { stub, weather } = await gateway(t, { tools: (stub) => [weatherWith(stub, { placeCache: { max: 2, ttlMs: 150 } })] })
      const searches = () => paths(stub).filter((path) => path === '/v1/search').length
      await weather({ location: 'Paris' })
      await weather({ location: 'Tokyo' })
      await weather({ location: 'Paris' })
      assert.equal(searches(), 2)
      await weather({ location: 'Paris, Texas' }) // the third place: Tokyo, the least recently used, goes
      await weather({ location: 'Paris' })
      assert.equal(searches(), 3)
      await weather({ location: 'Tokyo' })
      assert.equal(searches(), 4)
      await setTimeout(200)
      await weather({ location: 'Tokyo' })
      assert.equal(searches(), 5)
    })

    it("holds its requests to Open-Meteo's free-tier limits by default", () => {
      assert.deepEqual(openMeteoRateLimits, [
        { requests: 600, perMs: 60_000 },
        { requests: 5_000, perMs: 3_600_000 },
        { requests: 10_000, perMs: 86_400_000 },
      ])
      assert.equal(createGetWeather({ geocodingUrl: closedAddress, forecastUrl: closedAddress }).concurrency, undefined)
    })

    it('makes the request past its rate limit wait for its turn, geocoding and forecast counted together', async (t) => {
      const { stub, weather } = await gateway(t, { tools: (stub) => [weatherWith(stub, { rateLimits: [{ requests: 3, perMs: 400 }] })] })
      const started = performance.now()
      await weather({ location: 'Paris' })
      const tokyo = weather({ location: 'Tokyo' })
      // Tokyo's geocoding is the third request, at once; its forecast the fourth, 400 ms after the first.
      const tokyoDone = await tokyo
      const wallMs = performance.now() - started
      assert.equal(tokyoDone.result.ok, true)
      assert.equal(paths(stub).length, 4)
      assert.ok(wallMs >= 395, `the fourth request waited for the window: ${String(Math.round(wallMs))} ms`)
      assert.ok(wallMs < 2_000, `and no longer: ${String(Math.round(wallMs))} ms`)
    })

    it('answers timeout when the turn of its request comes after the deadline, without sending it', async (t) => {
      const { stub, weather } = await gateway(t, {
        tools: (stub) => [quickWeather(stub, { timeoutMs: 300, attemptTimeoutMs: 300 }, { rateLimits: [{ requests: 2, perMs: 60_000 }] })],
      })
      assert.equal((await weather({ location: 'Paris' })).result.ok, true)
      const started = performance.now()
      const { result } = await weather({ location: 'Tokyo' })
      const wallMs = performance.now() - started
      assert.deepEqual(result.error, { code: 'timeout', message: 'get_weather did not finish within its deadline of 300 ms' })
      assert.ok(wallMs >= 295 && wallMs < 2_000, `at the deadline: ${String(Math.round(wallMs))} ms`)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast'])
    })
  })

  describe('when Open-Meteo fails', () => {
    it('retries a 503 and answers from the second attempt', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('unavailable')
      const { result, output } = await weather({ location: 'Paris' })
      assert.equal(result.ok, true)
      assert.equal(result.attempts, 2)
      assert.equal(output.location.country_code, 'FR')
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/search', '/v1/forecast'])
    })

    it('retries a 429 as well', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('unavailable')
      stub.failNext('rate_limited')
      const { result } = await weather({ location: 'Paris' })
      assert.equal(result.ok, true)
      assert.equal(result.attempts, 3)
    })

    it('retries a failed forecast from the start, the place it found already remembered', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('unavailable', 1, '/v1/forecast')
      const { result } = await weather({ location: 'Tokyo' })
      assert.equal(result.ok, true)
      assert.equal(result.attempts, 2)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast', '/v1/forecast'])
    })

    it('gives up after its two retries, saying which service is unavailable', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('unavailable', 3, '/v1/forecast')
      const { result } = await weather({ location: 'Paris' })
      assert.deepEqual(result.error, { code: 'tool_error', message: 'the Open-Meteo forecast API is unavailable (HTTP 503)' })
      assert.equal(result.attempts, 3)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast', '/v1/forecast', '/v1/forecast'])
    })

    it('does not retry a 400, and passes on the reason Open-Meteo gave', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('bad_request')
      const geocoding = await weather({ location: 'Paris' })
      assert.deepEqual(geocoding.result.error, {
        code: 'tool_error',
        message: 'the Open-Meteo geocoding API refused the request (HTTP 400): Parameter count must be between 1 and 100',
      })
      assert.equal(geocoding.result.attempts, 1)
      stub.failNext('bad_request', 1, '/v1/forecast')
      const forecast = await weather({ location: 'Paris' })
      assert.match(forecast.result.error?.message ?? '', /^the Open-Meteo forecast API refused the request \(HTTP 400\): /)
      assert.equal(forecast.result.attempts, 1)
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/search', '/v1/forecast'])
    })

    it('answers tool_error for a body that is not JSON, without retrying', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('garbage')
      const { result } = await weather({ location: 'Paris' })
      assert.deepEqual(result.error, {
        code: 'tool_error',
        message: 'the Open-Meteo geocoding API answered HTTP 200 with a body that is not JSON',
      })
      assert.equal(result.attempts, 1)
    })

    it('answers tool_error for a body over 1 MiB, without retrying', async (t) => {
      const { stub, weather } = await gateway(t)
      stub.failNext('huge', 1, '/v1/forecast')
      const { result } = await weather({ location: 'Paris' })
      assert.deepEqual(result.error, { code: 'tool_error', message: 'the Open-Meteo forecast API answered more than 1048576 bytes' })
      assert.equal(result.attempts, 1)
    })

    it('answers tool_error after its retries when the upstream cannot be reached', async (t) => {
      const closed = closedAddress
      const { weather } = await gateway(t, { env: { OPEN_METEO_GEOCODING_URL: closed, OPEN_METEO_FORECAST_URL: closed } })
      const { result } = await weather({ location: 'Paris' })
      assert.equal(result.error?.code, 'tool_error')
      assert.match(result.error.message, /^the Open-Meteo geocoding API is unreachable: .*ECONNREFUSED/)
      assert.equal(result.attempts, 3)
    })

    it('cuts an attempt that takes longer than its own timeout, and answers from the next', async (t) => {
      const { stub, weather } = await gateway(t, { tools: (stub) => [quickWeather(stub, { timeoutMs: 10_000, attemptTimeoutMs: 1_000 })] })
      stub.failNext({ delayMs: 30_000 }, 1, '/v1/forecast')
      const { result, output } = await weather({ location: 'Paris' })
      assert.equal(result.ok, true)
      assert.equal(result.attempts, 2)
      assert.equal(output.current.conditions, 'overcast')
      assert.deepEqual(paths(stub), ['/v1/search', '/v1/forecast', '/v1/forecast'])
    })

    it('answers timeout when every attempt hangs past its own timeout, after its two retries', async (t) => {
      const { stub, weather } = await gateway(t, { tools: (stub) => [quickWeather(stub, { timeoutMs: 30_000, attemptTimeoutMs: 100 })] })
      stub.failNext('hang', 100)
      const { result } = await weather({ location: 'Paris' })
      assert.deepEqual(result.error, {
        code: 'timeout',
        message: 'attempt 3 of get_weather did not finish within 100 ms (after 3 attempts)',
      })
      assert.equal(result.attempts, 3)
      assert.ok(stub.requests.every((request) => request.path === '/v1/search'))
    })

    it('answers timeout at the deadline when a hanging upstream outlasts it, retries included', async (t) => {
      // Attempts are cut at 300 and 600 ms; the deadline cuts the third, whose own timeout is later.
      const { stub, weather } = await gateway(t, { tools: (stub) => [quickWeather(stub, { timeoutMs: 750, attemptTimeoutMs: 300 })] })
      stub.failNext('hang', 100)
      const { result } = await weather({ location: 'Paris' })
      assert.equal(result.error?.code, 'timeout')
      assert.ok(result.attempts >= 2, `attempts: ${String(result.attempts)}`)
      assert.equal(
        result.error.message,
        `get_weather did not finish within its deadline of 750 ms (after ${String(result.attempts)} attempts)`,
      )
      assert.ok(stub.requests.every((request) => request.path === '/v1/search'))
    })
  })
})

describe('the Open-Meteo stand-in', () => {
  const get = async (stub: OpenMeteoStub, path: string) => {
    const response = await fetch(new URL(path, stub.url))
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }

  it("geocodes in Open-Meteo's format, honouring count, with no results key when nothing matches", async (t) => {
    const stub = await startOpenMeteoStubFor(t)
    const paris = await get(stub, '/v1/search?name=Paris&count=1&language=en&format=json')
    assert.deepEqual(paris, {
      status: 200,
      body: {
        results: [
          {
            id: 2988507,
            name: 'Paris',
            latitude: 48.85341,
            longitude: 2.3488,
            elevation: 42,
            feature_code: 'PPLC',
            country_code: 'FR',
            admin1_id: 3012874,
            timezone: 'Europe/Paris',
            population: 2138551,
            country_id: 3017382,
            country: 'France',
            admin1: 'Île-de-France',
          },
        ],
        generationtime_ms: 0.9,
      },
    })
    const both = await get(stub, '/v1/search?name=paris&count=10&language=en&format=json')
    assert.deepEqual(
      (both.body.results as Array<{ admin1: string }>).map((place) => place.admin1),
      ['Île-de-France', 'Texas'],
    )
    assert.deepEqual(await get(stub, '/v1/search?name=Atlantis&count=1'), { status: 200, body: { generationtime_ms: 0.5 } })
    // "Place N": one place of its own for each number (the benchmark's places never asked before).
    const numbered = await get(stub, '/v1/search?name=place%2042&count=1')
    assert.deepEqual(
      (numbered.body.results as Array<{ id: number; name: string }>).map(({ id, name }) => ({ id, name })),
      [{ id: 10_000_042, name: 'Place 42' }],
    )
    assert.deepEqual(await get(stub, '/v1/search?name=Paris&count=0'), {
      status: 400,
      body: { error: true, reason: 'Parameter count must be between 1 and 100' },
    })
  })

  it('answers the current variables asked for, in the units asked for, and 400 for one it does not know', async (t) => {
    const stub = await startOpenMeteoStubFor(t)
    const forecast = await get(stub, `/v1/forecast?latitude=48.85341&longitude=2.3488&current=${currentVariables}&timezone=auto`)
    assert.equal(forecast.status, 200)
    assert.deepEqual(forecast.body.current_units, {
      time: 'iso8601',
      interval: 'seconds',
      temperature_2m: '°C',
      apparent_temperature: '°C',
      relative_humidity_2m: '%',
      weather_code: 'wmo code',
      wind_speed_10m: 'km/h',
      wind_direction_10m: '°',
    })
    assert.deepEqual(forecast.body.current, {
      time: '2026-11-24T10:15',
      interval: 900,
      temperature_2m: 7.1,
      apparent_temperature: 4.2,
      relative_humidity_2m: 81,
      weather_code: 3,
      wind_speed_10m: 12.3,
      wind_direction_10m: 230,
    })
    const some = await get(stub, '/v1/forecast?latitude=1&longitude=2&current=wind_speed_10m&wind_speed_unit=kn')
    assert.deepEqual(some.body.current, { time: '2026-11-24T10:15', interval: 900, wind_speed_10m: 6.6 })
    assert.deepEqual(await get(stub, '/v1/forecast?latitude=1&longitude=2&current=temperature_2m,sunshine'), {
      status: 400,
      body: { error: true, reason: 'Cannot initialize WeatherVariable from invalid String value sunshine for key current' },
    })
    const kelvin = await get(stub, '/v1/forecast?latitude=1&longitude=2&current=temperature_2m&temperature_unit=kelvin')
    assert.equal(kelvin.status, 400)
    assert.equal((await get(stub, '/v1/forecast?latitude=91&longitude=2&current=temperature_2m')).status, 400)
  })

  it('plays scripted faults in order, for one endpoint or any', async (t) => {
    const stub = await startOpenMeteoStubFor(t)
    stub.failNext('rate_limited', 1, '/v1/forecast')
    stub.failNext('unavailable', 2)
    const statuses: number[] = []
    for (const path of ['/v1/search?name=Tokyo', '/v1/forecast?latitude=1&longitude=2', '/v1/search?name=Tokyo', '/v1/search?name=Tokyo']) {
      statuses.push((await get(stub, path)).status)
    }
    assert.deepEqual(statuses, [503, 429, 503, 200])
  })
})
