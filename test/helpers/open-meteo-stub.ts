import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A place of the stand-in's gazetteer, in the fields Open-Meteo's geocoding API returns. */
export interface Place {
  id: number
  name: string
  latitude: number
  longitude: number
  elevation: number
  feature_code: string
  country_code: string
  admin1_id: number
  timezone: string
  population: number
  country_id: number
  country: string
  admin1: string
}

export const gazetteer: Place[] = [
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
  {
    id: 4717560,
    name: 'Paris',
    latitude: 33.66094,
    longitude: -95.55551,
    elevation: 183,
    feature_code: 'PPLA2',
    country_code: 'US',
    admin1_id: 4736286,
    timezone: 'America/Chicago',
    population: 24782,
    country_id: 6252001,
    country: 'United States',
    admin1: 'Texas',
  },
  {
    id: 1850147,
    name: 'Tokyo',
    latitude: 35.6895,
    longitude: 139.69171,
    elevation: 44,
    feature_code: 'PPLC',
    country_code: 'JP',
    admin1_id: 1850144,
    timezone: 'Asia/Tokyo',
    population: 9733276,
    country_id: 1861060,
    country: 'Japan',
    admin1: 'Tokyo',
  },
]

/** The stand-in's fixed weather, in Open-Meteo's default units (°C, km/h). */
const weather = {
  temperature_2m: 7.1,
  apparent_temperature: 4.2,
  relative_humidity_2m: 81,
  weather_code: 3,
  wind_speed_10m: 12.3,
  wind_direction_10m: 230,
  is_day: 1,
} as const
type Variable = keyof typeof weather

const windSpeedUnits: Record<string, { label: string; perKmh: number }> = {
  kmh: { label: 'km/h', perKmh: 1 },
  ms: { label: 'm/s', perKmh: 1 / 3.6 },
  mph: { label: 'mph', perKmh: 1 / 1.609344 },
  kn: { label: 'kn', perKmh: 1 / 1.852 },
}

/** What the stand-in can be told to do instead of answering normally. */
export type Fault =
  | 'unavailable' // 503
  | 'rate_limited' // 429
  | 'bad_request' // 400 with Open-Meteo's {"error":true,"reason":…}
  | 'garbage' // 200 with a body that is not JSON
  | 'huge' // 200 with a JSON body over 1 MiB
  | 'hang' // never answers
  | { delayMs: number } // answers normally, after this delay instead of `latencyMs`

export type Endpoint = '/v1/search' | '/v1/forecast'

export interface StubRequest {
  method: string
  path: string
  query: URLSearchParams
}

export interface OpenMeteoStub {
  /** Base URL of both APIs (their paths differ); the same as `geocodingUrl` and `forecastUrl`. */
  url: string
  /** For OPEN_METEO_GEOCODING_URL. */
  geocodingUrl: string
  /** For OPEN_METEO_FORECAST_URL. */
  forecastUrl: string
  /** Every request received, in order of arrival. */
  requests: StubRequest[]
  /** Requests received and not yet answered (or dropped). */
  inFlight: number
  /** The most requests in flight at once so far. */
  maxInFlight: number
  /** Answers the next `count` requests (to `endpoint` only, if given) with `fault`. */
  failNext: (fault: Fault, count?: number, endpoint?: Endpoint) => void
  /** Delay before each normal answer, in ms (a realistic upstream takes ~100 ms). */
  latencyMs: number
  /** Stops the server, dropping hung and delayed requests. Idempotent. */
  close: () => Promise<void>
}

/**
 * A local stand-in for Open-Meteo's geocoding and forecast APIs, answering in their exact JSON
 * formats on loopback, with scriptable latency and faults. Used by tests, the benchmark and the
 * demo when the real service is out of reach; its weather is fixed, and says nothing of the sky.
 */
export async function startOpenMeteoStub(options: { latencyMs?: number; port?: number } = {}): Promise<OpenMeteoStub> {
  const faults: Array<{ fault: Fault; endpoint: Endpoint | undefined }> = []
  const requests: StubRequest[] = []
  const timers = new Set<NodeJS.Timeout>()
  const takeFault = (path: string): Fault | undefined => {
    const index = faults.findIndex(({ endpoint }) => endpoint === undefined || endpoint === path)
    return index === -1 ? undefined : faults.splice(index, 1)[0]?.fault
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://stub')
    requests.push({ method: request.method ?? 'GET', path: url.pathname, query: url.searchParams })
    stub.inFlight++
    stub.maxInFlight = Math.max(stub.maxInFlight, stub.inFlight)
    response.once('close', () => {
      stub.inFlight--
    })
    const fault = takeFault(url.pathname)
    if (fault === 'hang') return
    const delayMs = typeof fault === 'object' ? fault.delayMs : stub.latencyMs
    const timer = setTimeout(() => {
      timers.delete(timer)
      answer(url, typeof fault === 'object' ? undefined : fault, response)
    }, delayMs)
    timers.add(timer)
  })
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
  let closed: Promise<void> | undefined
  const stub: OpenMeteoStub = {
    url,
    geocodingUrl: url,
    forecastUrl: url,
    requests,
    inFlight: 0,
    maxInFlight: 0,
    latencyMs: options.latencyMs ?? 0,
    failNext: (fault, count = 1, endpoint) => {
      for (let i = 0; i < count; i++) faults.push({ fault, endpoint })
    },
    close: () =>
      (closed ??= (async () => {
        for (const timer of timers) clearTimeout(timer)
        server.closeAllConnections()
        server.close()
        await once(server, 'close')
      })()),
  }
  return stub
}

/** Starts a stand-in that is closed when the test ends (`t` is node:test's TestContext). */
export async function startOpenMeteoStubFor(
  t: { after: (fn: () => Promise<void>) => void },
  options: { latencyMs?: number } = {},
): Promise<OpenMeteoStub> {
  const stub = await startOpenMeteoStub(options)
  t.after(() => stub.close())
  return stub
}

function answer(url: URL, fault: Exclude<Fault, 'hang' | { delayMs: number }> | undefined, response: ServerResponse): void {
  if (fault === 'garbage' || fault === 'huge') {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
    response.end(fault === 'garbage' ? '<html>surprise</html>' : `{"results":[${'{"name":"x"},'.repeat(120_000)}{}]}`)
    return
  }
  const [status, body] = reply(url, fault)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  response.end(JSON.stringify(body))
}

type Reply = [status: number, body: object]

const refuse = (reason: string): Reply => [400, { error: true, reason }]

function reply(url: URL, fault: 'unavailable' | 'rate_limited' | 'bad_request' | undefined): Reply {
  if (fault === 'unavailable') return [503, { error: true, reason: 'Service unavailable' }]
  if (fault === 'rate_limited') return [429, { error: true, reason: 'Too many requests' }]
  if (fault === 'bad_request') return refuse('Parameter count must be between 1 and 100')
  if (url.pathname.endsWith('/v1/search')) return geocode(url.searchParams)
  if (url.pathname.endsWith('/v1/forecast')) return forecast(url.searchParams)
  return [404, { error: true, reason: 'Not found' }]
}

function geocode(query: URLSearchParams): Reply {
  const count = Number(query.get('count') ?? 10)
  if (!Number.isInteger(count) || count < 1 || count > 100) return refuse('Parameter count must be between 1 and 100')
  const name = (query.get('name') ?? '').trim().toLowerCase()
  const numbered = numberedPlace(name)
  const results = numbered === undefined ? gazetteer.filter((place) => place.name.toLowerCase() === name).slice(0, count) : [numbered]
  // Open-Meteo leaves the `results` key out when nothing matches.
  return [200, results.length === 0 ? { generationtime_ms: 0.5 } : { results, generationtime_ms: 0.9 }]
}

/**
 * "Place 17": a place of its own for every number, so that a benchmark can ask for places never
 * geocoded before (get_weather keeps those it found) without a gazetteer that large.
 */
function numberedPlace(name: string): Place | undefined {
  const number = /^place (\d{1,9})$/.exec(name)?.[1]
  if (number === undefined) return undefined
  const n = Number(number)
  return {
    id: 10_000_000 + n,
    name: `Place ${number}`,
    latitude: (n % 170) - 85 + 0.5,
    longitude: (n % 350) - 175 + 0.25,
    elevation: 0,
    feature_code: 'PPL',
    country_code: 'ZZ',
    admin1_id: 0,
    timezone: 'UTC',
    population: 0,
    country_id: 0,
    country: 'Numbered places',
    admin1: 'Numbered places',
  }
}

function forecast(query: URLSearchParams): Reply {
  const latitude = coordinate(query.get('latitude'))
  const longitude = coordinate(query.get('longitude'))
  if (Number.isNaN(latitude) || Number.isNaN(longitude)) return refuse("Parameter 'latitude' and 'longitude' must be numbers")
  if (Math.abs(latitude) > 90) return refuse(`Latitude must be in range of -90 to 90°. Given: ${String(latitude)}.`)
  if (Math.abs(longitude) > 180) return refuse(`Longitude must be in range of -180 to 180°. Given: ${String(longitude)}.`)
  const temperatureUnit = query.get('temperature_unit') ?? 'celsius'
  if (temperatureUnit !== 'celsius' && temperatureUnit !== 'fahrenheit') {
    return refuse(`Cannot initialize TemperatureUnit from invalid String value ${temperatureUnit} for key temperature_unit`)
  }
  const windUnitName = query.get('wind_speed_unit') ?? 'kmh'
  const windUnit = windSpeedUnits[windUnitName]
  if (windUnit === undefined) {
    return refuse(`Cannot initialize WindspeedUnit from invalid String value ${windUnitName} for key wind_speed_unit`)
  }
  const asked = query.get('current')?.split(',') ?? []
  const unknown = asked.find((name) => !Object.hasOwn(weather, name))
  if (unknown !== undefined) return refuse(`Cannot initialize WeatherVariable from invalid String value ${unknown} for key current`)

  const fahrenheit = temperatureUnit === 'fahrenheit'
  const round = (value: number) => Math.round(value * 10) / 10
  const units: Record<Variable, string> = {
    temperature_2m: fahrenheit ? '°F' : '°C',
    apparent_temperature: fahrenheit ? '°F' : '°C',
    relative_humidity_2m: '%',
    weather_code: 'wmo code',
    wind_speed_10m: windUnit.label,
    wind_direction_10m: '°',
    is_day: '',
  }
  const values: Record<Variable, number> = {
    ...weather,
    temperature_2m: fahrenheit ? round((weather.temperature_2m * 9) / 5 + 32) : weather.temperature_2m,
    apparent_temperature: fahrenheit ? round((weather.apparent_temperature * 9) / 5 + 32) : weather.apparent_temperature,
    wind_speed_10m: round(weather.wind_speed_10m * windUnit.perKmh),
  }
  // Like Open-Meteo, `current` holds exactly the variables asked for, in that order, and is
  // left out when none were.
  const variables = asked as Variable[]
  const current =
    variables.length === 0
      ? {}
      : {
          current_units: { time: 'iso8601', interval: 'seconds', ...pick(units, variables) },
          current: { time: '2026-11-24T10:15', interval: 900, ...pick(values, variables) },
        }
  return [
    200,
    {
      latitude,
      longitude,
      generationtime_ms: 0.05,
      utc_offset_seconds: 3600,
      timezone: 'Europe/Paris',
      timezone_abbreviation: 'GMT+1',
      elevation: 43,
      ...current,
    },
  ]
}

function coordinate(text: string | null): number {
  return text === null || text.trim() === '' ? Number.NaN : Number(text)
}

function pick<Value>(record: Record<Variable, Value>, keys: Variable[]): Partial<Record<Variable, Value>> {
  return Object.fromEntries(keys.map((key) => [key, record[key]]))
}
