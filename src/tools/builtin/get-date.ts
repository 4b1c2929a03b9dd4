import { dayOfYear, defineClockTool, isoWeek } from './zoned-clock.ts'

/** get_date: today's date in a time zone, with weekday and ISO week. */
export function createGetDate(now: () => Date = () => new Date()) {
  return defineClockTool({
    name: 'get_date',
    description: "Get today's local date in an IANA time zone: YYYY-MM-DD, weekday and ISO week.",
    now,
    answer: (local) => ({
      timezone: local.timeZone,
      date: local.date,
      weekday: local.weekday,
      iso_week: isoWeek(local.year, local.month, local.day),
      day_of_year: dayOfYear(local.year, local.month, local.day),
    }),
  })
}
