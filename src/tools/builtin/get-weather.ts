import { LRUCache } from 'lru-cache'
import { z } from 'zod'
import { ToolError } from '../../errors.ts'
import { defineTool } from '../tool.ts'
import { fetchJson } from '../http/fetch-json.ts'
import { RateLimiter, type RateLimit } from './rate-limiter.ts'

export interface WeatherServices {
  /** Base URL of Open-Meteo's geocoding API; `/v1/search` is appended. */
  geocodingUrl: string
  /** Base URL of Open-Meteo's forecast API; `/v1/forecast` is appended. */
  forecastUrl: string
}

/**
 * The limits of Open-Meteo's free (non-commercial) API, which counts requests per client address:
 * 600 a minute, 5,000 an hour, 10,000 a day. get_weather holds its requests to both APIs
 * (geocoding and forecast, counted together) to these; one request past them waits for its turn,
 * and a call whose deadline comes first ends as a timeout.
 */
export const openMeteoRateLimits: readonly RateLimit[] = [
  { requests: 600, perMs: 60_000 },
  { requests: 5_000, perMs: 3_600_000 },
  { requests: 10_000, perMs: 86_400_000 },
]

/** Places geocoded are remembered (by name, case and spaces aside): this many, this long. */
export const placeCacheDefaults = { max: 1_000, ttlMs: 24 * 3_600_000 } as const

export interface WeatherOptions {
  /**
   * Limits of the requests to Open-Meteo. Left out: `openMeteoRateLimits`, held by one limiter
   * shared by every get_weather of the process, since Open-Meteo counts per address.
   */
  rateLimits?: readonly RateLimit[]
  /** How many places are remembered, and for how long. @default placeCacheDefaults */
  placeCache?: { max: number; ttlMs: number }
}

let sharedLimiter: RateLimiter | undefined

const placeSchema = z.object({
  name: z.string(),
  latitude: z.number(),
  longitude: z.number(),
  country: z.string().optional(),
  country_code: z.string().optional(),
  admin1: z.string().optional(),
  timezone: z.string().optional(),
})

const geocodingSchema = z.object({ results: z.array(placeSchema).optional() })

const currentVariables = [
  'temperature_2m',
  'apparent_temperature',
  'relative_humidity_2m',
  'weather_code',
  'wind_speed_10m',
  'wind_direction_10m',
] as const

const forecastSchema = z.object({
  current: z.object({
    time: z.string(),
    temperature_2m: z.number(),
    apparent_temperature: z.number(),
    relative_humidity_2m: z.number(),
    weather_code: z.number(),
    wind_speed_10m: z.number(),
    wind_direction_10m: z.number(),
  }),
  current_units: z.object({ temperature_2m: z.string(), wind_speed_10m: z.string() }),
})

/** WMO weather interpretation codes, as Open-Meteo documents them. */
const conditions: Record<number, string> = {
  0: 'clear sky',
  1: 'mainly clear',
  2: 'partly cloudy',
  3: 'overcast',
  45: 'fog',
  48: 'depositing rime fog',
  51: 'light drizzle',
  53: 'moderate drizzle',
  55: 'dense drizzle',
  56: 'light freezing drizzle',
  57: 'dense freezing drizzle',
  61: 'slight rain',
  63: 'moderate rain',
  65: 'heavy rain',
  66: 'light freezing rain',
  67: 'heavy freezing rain',
  71: 'slight snowfall',
  73: 'moderate snowfall',
  75: 'heavy snowfall',
  77: 'snow grains',
  80: 'slight rain showers',
  81: 'moderate rain showers',
  82: 'violent rain showers',
  85: 'slight snow showers',
  86: 'heavy snow showers',
  95: 'thunderstorm',
  96: 'thunderstorm with slight hail',
  99: 'thunderstorm with heavy hail',
}

/**
 * get_weather: current conditions from Open-Meteo (no key). The place is geocoded first and
 * returned with the answer, so the model sees which Paris it got. "Paris, US" narrows the search
 * to places whose country, country code or region matches what follows the comma.
 *
 * It sets no concurrency of its own: the calls of a batch run together, within
 * TOOLGATE_CONCURRENCY. What protects Open-Meteo is what its terms count: requests over time
 * (`openMeteoRateLimits`), and places already geocoded are not asked again (`placeCacheDefaults`).
 */
export function createGetWeather(services: WeatherServices, options: WeatherOptions = {}) {
  const limiter = options.rateLimits ? new RateLimiter(options.rateLimits) : (sharedLimiter ??= new RateLimiter(openMeteoRateLimits))
  const { max, ttlMs } = options.placeCache ?? placeCacheDefaults
  // Only places found are kept: an error or "no such place" is asked again next time.
  const places = new LRUCache<string, Place>({ max, ttl: ttlMs })
  const ask = async <Schema extends z.ZodType>(service: string, url: URL, schema: Schema, signal: AbortSignal) => {
    await limiter.acquire(signal)
    return fetchJson(service, url, schema, signal)
  }
  return defineTool({
    name: 'get_weather',
    description:
      'Get the current weather (temperature, conditions, wind) for a place. Returns the place it resolved, with country and coordinates.',
    inputSchema: z.strictObject({
      location: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .refine((location) => (location.split(',')[0] ?? '').trim() !== '', {
          message: 'start with a place name, optionally followed by region or country: "Paris, Texas"',
        })
        .describe('A place name, optionally narrowed by country or region: "Paris", "Paris, Texas", "Tokyo, JP".'),
      unit: z.enum(['celsius', 'fahrenheit']).default('celsius').describe('Temperature unit. Defaults to celsius.'),
    }),
    timeoutMs: 10_000,
    attemptTimeoutMs: 4_000,
    retries: 2,
    // A lookup: its timed-out attempts are retried, and a call cut by a dying replica runs again.
    readOnly: true,
    async execute({ location, unit }, { signal }) {
      const key = placeKey(location)
      let place = places.get(key)
      if (place === undefined) {
        place = await geocode(services.geocodingUrl, location, (url, schema) => ask('the Open-Meteo geocoding API', url, schema, signal))
        places.set(key, place)
      }
      const url = forecastRequest(services.forecastUrl, place, unit)
      const { current, current_units: units } = await ask('the Open-Meteo forecast API', url, forecastSchema, signal)
      return {
        location: {
          name: place.name,
          region: place.admin1 ?? null,
          country: place.country ?? null,
          country_code: place.country_code ?? null,
          latitude: place.latitude,
          longitude: place.longitude,
          timezone: place.timezone ?? null,
        },
        current: {
          time: current.time,
          temperature: current.temperature_2m,
          apparent_temperature: current.apparent_temperature,
          temperature_unit: units.temperature_2m,
          relative_humidity_percent: current.relative_humidity_2m,
          conditions: conditions[current.weather_code] ?? `unknown (WMO code ${String(current.weather_code)})`,
          weather_code: current.weather_code,
          wind_speed: current.wind_speed_10m,
          wind_speed_unit: units.wind_speed_10m,
          wind_direction_degrees: current.wind_direction_10m,
        },
        // Which service answered: a stand-in's figures must never pass for Open-Meteo's.
        source: url.host,
      }
    },
  })
}

type Place = z.output<typeof placeSchema>

/** "  Paris ,TEXAS" and "paris, texas" are one place. */
function placeKey(location: string): string {
  return location
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean)
    .join(', ')
}

async function geocode(
  baseUrl: string,
  location: string,
  get: (url: URL, schema: typeof geocodingSchema) => Promise<z.output<typeof geocodingSchema>>,
): Promise<Place> {
  const [name = '', ...rest] = location.split(',').map((part) => part.trim())
  const qualifiers = rest.filter(Boolean).map((part) => part.toLowerCase())
  const qualifier = qualifiers.join(', ')
  const { results = [] } = await get(geocodingRequest(baseUrl, name, qualifier ? 10 : 1), geocodingSchema)
  // "Paris, Texas, US": every part after the name must be the place's region, country or country code.
  const place = results.find((candidate) =>
    qualifiers.every((part) =>
      [candidate.country, candidate.country_code, candidate.admin1].some((field) => field?.toLowerCase() === part),
    ),
  )
  if (place !== undefined) return place
  if (results.length === 0) {
    throw new ToolError(`no place named "${name}" was found; check the spelling or try a nearby city`)
  }
  const found = results.map((candidate) => [candidate.name, candidate.admin1, candidate.country].filter(Boolean).join(', '))
  throw new ToolError(`no place named "${name}" in "${qualifier}"; places with that name: ${found.join('; ')}`)
}

/** The geocoding API's request for the first `count` places named `name`. */
export function geocodingRequest(baseUrl: string, name: string, count: number): URL {
  const url = endpoint(baseUrl, 'v1/search')
  url.search = new URLSearchParams({ name, count: String(count), language: 'en', format: 'json' }).toString()
  return url
}

/** The forecast API's request for the current conditions at `place`, in `unit` (wind in mph with fahrenheit). */
export function forecastRequest(baseUrl: string, place: { latitude: number; longitude: number }, unit: 'celsius' | 'fahrenheit'): URL {
  const url = endpoint(baseUrl, 'v1/forecast')
  url.search = new URLSearchParams({
    latitude: String(place.latitude),
    longitude: String(place.longitude),
    current: currentVariables.join(','),
    temperature_unit: unit,
    wind_speed_unit: unit === 'fahrenheit' ? 'mph' : 'kmh',
    timezone: 'auto',
  }).toString()
  return url
}

/** `path` under the base URL, keeping the base's own path (a proxy's prefix, say). */
function endpoint(baseUrl: string, path: string): URL {
  const url = new URL(baseUrl)
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${path}`
  return url
}
