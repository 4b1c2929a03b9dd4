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
  timezone: string
  population: number
  country: string
  admin1: string
}

export const gazetteer: Place[] = [
  { id: 2988507, name: 'Paris', latitude: 48.85341, longitude: 2.3488, elevation: 42, feature_code: 'PPLC', country_code: 'FR', timezone: 'Europe/Paris', population: 2138551, country: 'France', admin1: 'Île-de-France' },
  { id: 4717560, name: 'Paris', latitude: 33.66094, longitude: -95.55551, elevation: 183, feature_code: 'PPLA2', country_code: 'US', timezone: 'America/Chicago', population: 24782, country: 'United States', admin1: 'Texas' },
  { id: 1850147, name: 'Tokyo', latitude: 35.6895, longitude: 139.69171, elevation: 44, feature_code: 'PPLC', country_code: 'JP', timezone: 'Asia/Tokyo', population: 9733276, country: 'Japan', admin1: 'Tokyo' },
]

const knownVariables = new Set(['temperature_2m', 'apparent_temperature', 'relative_humidity_2m', 'weather_code', 'wind_speed_10m', 'wind_direction_10m', 'is_day'])

/** What the stand-in can be told to do instead of answering normally, for the next requests. */
export type Fault = 'unavailable' | 'rate_limited' | 'bad_request' | 'garbage' | 'huge' | 'hang'

export interface OpenMeteoStub {
  /** Base URL to use as OPEN_METEO_GEOCODING_URL and OPEN_METEO_FORECAST_URL (the paths differ). */
  url: string
  /** Every request received: its path and query. */
  requests: Array<{ path: string; query: URLSearchParams }>
  /** Answers the next `count` requests with `fault`. */
  failNext: (fault: Fault, count?: number) => void
  /** Delay before each answer, in ms (a realistic upstream takes ~100 ms). */
  latencyMs: number
  close: () => Promise<void>
}

/**
 * A local stand-in for Open-Meteo's geocoding and forecast APIs, answering in their exact JSON
 * formats on loopback, with scriptable latency and faults. Used by tests, the benchmark and the
 * demo when the real service is out of reach; its weather is fixed, and says nothing of the sky.
 */
export async function startOpenMeteoStub(options: { latencyMs?: number; port?: number } = {}): Promise<OpenMeteoStub> {
  const faults: Fault[] = []
  const requests: OpenMeteoStub['requests'] = []
  const timers = new Set<NodeJS.Timeout>()
  const stub: Omit<OpenMeteoStub, 'url' | 'close'> = {
    requests,
    latencyMs: options.latencyMs ?? 0,
    failNext: (fault, count = 1) => {
      for (let i = 0; i < count; i++) faults.push(fault)
    },
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://stub')
    requests.push({ path: url.pathname, query: url.searchParams })
    const fault = faults.shift()
    if (fault === 'hang') return
    const timer = setTimeout(() => {
      timers.delete(timer)
      answer(url, fault, response)
    }, stub.latencyMs)
    timers.add(timer)
  })
  server.listen(options.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return Object.assign(stub, {
    url: `http://127.0.0.1:${String(port)}`,
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  })
}

function answer(url: URL, fault: Fault | undefined, response: ServerResponse): void {
  if (fault === 'garbage' || fault === 'huge') {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(fault === 'garbage' ? '<html>surprise</html>' : `{"results":[${'{"name":"x"},'.repeat(120_000)}{}]}`)
    return
  }
  const [status, body] = reply(url, fault)
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  response.end(JSON.stringify(body))
}

function reply(url: URL, fault: Fault | undefined): [number, unknown] {
  if (fault === 'unavailable') return [503, { error: true, reason: 'Service unavailable' }]
  if (fault === 'rate_limited') return [429, { error: true, reason: 'Too many requests' }]
  if (fault === 'bad_request') return [400, { error: true, reason: 'Parameter count must be between 1 and 100' }]
  if (url.pathname === '/v1/search') return [200, geocode(url.searchParams)]
  if (url.pathname !== '/v1/forecast') return [404, { error: true, reason: 'Not found' }]
  const unknown = (url.searchParams.get('current') ?? '').split(',').find((name) => !knownVariables.has(name))
  if (unknown !== undefined) {
    return [400, { error: true, reason: `Cannot initialize WeatherVariable from invalid String value ${unknown} for key current` }]
  }
  return [200, forecast(url.searchParams)]
}

function geocode(query: URLSearchParams): object {
  const name = (query.get('name') ?? '').toLowerCase()
  const count = Number(query.get('count') ?? 10)
  const results = gazetteer.filter((place) => place.name.toLowerCase() === name).slice(0, count)
  return results.length === 0 ? { generationtime_ms: 0.5 } : { results, generationtime_ms: 0.9 }
}

function forecast(query: URLSearchParams): object {
  const fahrenheit = query.get('temperature_unit') === 'fahrenheit'
  const mph = query.get('wind_speed_unit') === 'mph'
  return {
    latitude: Number(query.get('latitude')),
    longitude: Number(query.get('longitude')),
    generationtime_ms: 0.05,
    utc_offset_seconds: 3600,
    timezone: 'Europe/Paris',
    timezone_abbreviation: 'GMT+1',
    elevation: 43,
    current_units: {
      time: 'iso8601',
      interval: 'seconds',
      temperature_2m: fahrenheit ? '°F' : '°C',
      apparent_temperature: fahrenheit ? '°F' : '°C',
      relative_humidity_2m: '%',
      weather_code: 'wmo code',
      wind_speed_10m: mph ? 'mph' : 'km/h',
      wind_direction_10m: '°',
    },
    current: {
      time: '2026-11-24T10:15',
      interval: 900,
      temperature_2m: fahrenheit ? 44.8 : 7.1,
      apparent_temperature: fahrenheit ? 39.6 : 4.2,
      relative_humidity_2m: 81,
      weather_code: 3,
      wind_speed_10m: mph ? 7.6 : 12.3,
      wind_direction_10m: 230,
    },
  }
}
