export { createBuiltinTools } from './builtin-tools.ts'
export { createGetDate } from './get-date.ts'
export { createGetTime } from './get-time.ts'
export { createGetWeather, type WeatherServices } from './get-weather.ts'
