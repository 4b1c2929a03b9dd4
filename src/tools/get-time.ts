import { z } from 'zod'
import { defineTool } from '../tool.ts'
import { timeZoneSchema, zonedParts } from './zoned-clock.ts'

/** get_time: the current local time in a time zone, as ISO 8601 with its UTC offset. */
export function createGetTime(now: () => Date = () => new Date()) {
  return defineTool({
    name: 'get_time',
    description: 'Get the current local time in an IANA time zone (ISO 8601 with UTC offset).',
    inputSchema: z.strictObject({ timezone: timeZoneSchema }),
    timeoutMs: 1_000,
    execute({ timezone }) {
      const local = zonedParts(now(), timezone)
      return {
        timezone: local.timeZone,
        datetime: `${local.date}T${local.time}.${local.milliseconds}${local.offset}`,
        time: local.time,
        utc_offset: local.offset,
      }
    },
  })
}
