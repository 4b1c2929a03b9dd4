import type { Config } from '../../config/env.ts'
import type { Tool } from '../tool.ts'
import { createGetDate } from './get-date.ts'
import { createGetTime } from './get-time.ts'
import { createGetWeather } from './get-weather.ts'

/** The three tools of the reference experiment: time, date and weather. */
export function createBuiltinTools(config: Pick<Config, 'openMeteoGeocodingUrl' | 'openMeteoForecastUrl'>): Tool[] {
  return [
    createGetTime(),
    createGetDate(),
    createGetWeather({ geocodingUrl: config.openMeteoGeocodingUrl, forecastUrl: config.openMeteoForecastUrl }),
  ]
}
