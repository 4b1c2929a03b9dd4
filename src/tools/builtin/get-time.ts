import { defineClockTool } from './zoned-clock.ts'

/** get_time: the current local time in a time zone, as ISO 8601 with its UTC offset. */
export function createGetTime(now: () => Date = () => new Date()) {
  return defineClockTool({
    name: 'get_time',
    description: 'Get the current local time in an IANA time zone (ISO 8601 with UTC offset).',
    now,
    answer: (local) => ({
      timezone: local.timeZone,
      datetime: `${local.date}T${local.time}.${local.milliseconds}${local.offset}`,
      time: local.time,
      utc_offset: local.offset,
    }),
  })
}
