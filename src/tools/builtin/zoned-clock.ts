import { z } from 'zod'
import { handOver } from '../content.ts'
import { defineTool } from '../tool.ts'

/** Formatters by the zone name as written; bounded, since a model may write a zone in any case. */
const formatters = new Map<string, Intl.DateTimeFormat>()
const maxFormatters = 1_000

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (formatter === undefined) {
    if (formatters.size >= maxFormatters) formatters.clear()
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      fractionalSecondDigits: 3,
      weekday: 'long',
      timeZoneName: 'longOffset',
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

function isTimeZone(name: string): boolean {
  try {
    formatterFor(name)
    return true
  } catch {
    return false
  }
}

/** An IANA time zone name, checked against the runtime's tz database. */
export const timeZoneSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .refine(isTimeZone, { message: 'unknown IANA time zone; use a name such as "Europe/Paris", "America/New_York" or "UTC"' })
  .default('UTC')
  .describe('IANA time zone name, e.g. "Asia/Tokyo". Defaults to "UTC".')

export interface ZonedParts {
  timeZone: string
  /** `YYYY-MM-DD` */
  date: string
  /** `HH:MM:SS` */
  time: string
  milliseconds: string
  weekday: string
  /** `+09:00` */
  offset: string
  year: number
  month: number
  day: number
}

/** A zone's UTC offset, read once per minute: formatToParts is the costly part of a clock call. */
const offsets = new Map<string, { minute: number; offsetMs: number; offset: string }>()
const weekdays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const pad = (value: number, width = 2) => String(value).padStart(width, '0')

/** The wall-clock reading of `instant` in `timeZone`. */
export function zonedParts(instant: Date, timeZone: string): ZonedParts {
  const formatter = formatterFor(timeZone)
  const { offsetMs, offset } = offsetAt(instant, timeZone, formatter)
  // Offsets change on whole minutes, so within one the local time is UTC plus a constant.
  const local = new Date(instant.getTime() + offsetMs)
  const [year, month, day] = [local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate()]
  return {
    timeZone: canonicalName(timeZone, formatter),
    date: `${pad(year, 4)}-${pad(month)}-${pad(day)}`,
    time: `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`,
    milliseconds: pad(local.getUTCMilliseconds(), 3),
    weekday: weekdays[local.getUTCDay()] ?? '',
    offset,
    year,
    month,
    day,
  }
}

function offsetAt(instant: Date, timeZone: string, formatter: Intl.DateTimeFormat): { offsetMs: number; offset: string } {
  const minute = Math.floor(instant.getTime() / 60_000)
  const cached = offsets.get(timeZone)
  if (cached?.minute === minute) return cached
  const name = formatter.formatToParts(instant).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT'
  // "GMT+05:30", "GMT-03:30", or plain "GMT" for UTC.
  const [, sign = '+', hours = '0', minutes = '0'] = /^GMT(?:([+-])(\d{2}):(\d{2}))?/.exec(name) ?? []
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000
  const reading = { minute, offsetMs, offset: `${sign}${pad(Number(hours))}:${pad(Number(minutes))}` }
  if (offsets.size >= maxFormatters) offsets.clear()
  offsets.set(timeZone, reading)
  return reading
}

/**
 * The runtime's spelling of the zone when it only fixes the case ("asia/tokyo"), else the name as
 * asked: ICU answers older aliases (Asia/Kolkata -> Asia/Calcutta) or a linked zone (CET ->
 * Europe/Brussels), which is not what the model asked about.
 */
function canonicalName(asked: string, formatter: Intl.DateTimeFormat): string {
  let name = names.get(formatter)
  if (name === undefined) {
    const resolved = formatter.resolvedOptions().timeZone
    name = resolved.toLowerCase() === asked.toLowerCase() ? resolved : asked
    names.set(formatter, name)
  }
  return name
}

const names = new WeakMap<Intl.DateTimeFormat, string>()

/** ISO 8601 week of a calendar date, e.g. `2026-W01` for 2025-12-31. */
export function isoWeek(year: number, month: number, day: number): string {
  const date = new Date(Date.UTC(year, month - 1, day))
  const weekday = date.getUTCDay() || 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday) // the Thursday of the same week decides its year
  const weekYear = date.getUTCFullYear()
  const week = Math.ceil(((date.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000 + 1) / 7)
  return `${String(weekYear)}-W${String(week).padStart(2, '0')}`
}

/** Day of the year, 1 on January 1st. */
export function dayOfYear(year: number, month: number, day: number): number {
  return (Date.UTC(year, month - 1, day) - Date.UTC(year, 0, 1)) / 86_400_000 + 1
}

/** A tool that reads the clock in the time zone the model names (UTC if none) and answers from it. */
export function defineClockTool(definition: {
  name: string
  description: string
  now: () => Date
  /** A new object of JSON data per call. */
  answer: (local: ZonedParts) => Record<string, string | number>
}) {
  const { now, answer, ...described } = definition
  return defineTool({
    ...described,
    inputSchema: z.strictObject({ timezone: timeZoneSchema }),
    timeoutMs: 1_000,
    readOnly: true,
    // A new object per call, nothing else holds it: no copy needed.
    execute: ({ timezone }) => handOver(answer(zonedParts(now(), timezone))),
  })
}
