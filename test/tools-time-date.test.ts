import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import type { ToolContext } from '../src/tool.ts'
import { createGetDate } from '../src/tools/get-date.ts'
import { createGetTime } from '../src/tools/get-time.ts'
import { isoWeek } from '../src/tools/zoned-clock.ts'

const context: ToolContext = { signal: new AbortController().signal, log: pino({ level: 'silent' }), callId: 'call_1', attempt: 1 }
const instant = new Date('2026-01-01T00:30:00.250Z')

async function time(args: object, at = instant) {
  const tool = createGetTime(() => at)
  return await tool.execute(tool.inputSchema.parse(args), context)
}

async function date(args: object, at = instant) {
  const tool = createGetDate(() => at)
  return await tool.execute(tool.inputSchema.parse(args), context)
}

describe('get_time', () => {
  it('answers UTC by default', async () => {
    assert.deepEqual(await time({}), { timezone: 'UTC', datetime: '2026-01-01T00:30:00.250+00:00', time: '00:30:00', utc_offset: '+00:00' })
  })

  it('answers local time with its offset, as ISO 8601 naming the same instant', async () => {
    for (const [timezone, datetime] of [
      ['Asia/Tokyo', '2026-01-01T09:30:00.250+09:00'],
      ['America/New_York', '2025-12-31T19:30:00.250-05:00'],
      ['Asia/Kolkata', '2026-01-01T06:00:00.250+05:30'],
      ['America/St_Johns', '2025-12-31T21:00:00.250-03:30'],
    ] as const) {
      const answer = await time({ timezone })
      assert.equal(answer.datetime, datetime, timezone)
      assert.equal(new Date(answer.datetime).getTime(), instant.getTime())
    }
  })

  it('follows daylight saving time', async () => {
    assert.equal((await time({ timezone: 'Europe/Paris' }, new Date('2026-07-01T12:00:00Z'))).utc_offset, '+02:00')
    assert.equal((await time({ timezone: 'Europe/Paris' })).utc_offset, '+01:00')
  })

  it('refuses an unknown time zone with a message the model can act on', () => {
    const parsed = createGetTime().inputSchema.safeParse({ timezone: 'Mars/Olympus_Mons' })
    assert.equal(parsed.success, false)
    assert.match(parsed.error.issues[0]?.message ?? '', /unknown IANA time zone; use a name such as "Europe\/Paris"/)
  })
})

describe('get_date', () => {
  it('answers the local date, weekday, ISO week and day of the year', async () => {
    assert.deepEqual(await date({ timezone: 'Asia/Tokyo' }), {
      timezone: 'Asia/Tokyo',
      date: '2026-01-01',
      weekday: 'Thursday',
      iso_week: '2026-W01',
      day_of_year: 1,
    })
    assert.deepEqual(await date({ timezone: 'America/New_York' }), {
      timezone: 'America/New_York',
      date: '2025-12-31',
      weekday: 'Wednesday',
      iso_week: '2026-W01',
      day_of_year: 365,
    })
  })

  it('computes ISO weeks across year boundaries', () => {
    assert.equal(isoWeek(2027, 1, 1), '2026-W53')
    assert.equal(isoWeek(2024, 12, 30), '2025-W01')
    assert.equal(isoWeek(2021, 1, 3), '2020-W53')
    assert.equal(isoWeek(2026, 11, 24), '2026-W48')
  })
})
