import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { HandedOver } from '../../../src/tools/content.ts'
import type { ToolContext } from '../../../src/tools/tool.ts'
import { createGetDate } from '../../../src/tools/builtin/get-date.ts'
import { createGetTime } from '../../../src/tools/builtin/get-time.ts'
import { isoWeek } from '../../../src/tools/builtin/zoned-clock.ts'

const context: ToolContext = { signal: new AbortController().signal, log: pino({ level: 'silent' }), callId: 'call_1', attempt: 1 }
/** Half past midnight UTC on New Year's Day 2026: already 2026 in Asia, still 2025 in America. */
const instant = new Date('2026-01-01T00:30:00.250Z')

/** The answer a clock tool hands over (a new object per call, taken without a copy). */
async function handedOver<Answer>(answer: unknown): Promise<Answer> {
  const value = await answer
  assert.ok(value instanceof HandedOver)
  return value.value as Answer
}

type TimeAnswer = { timezone: string; datetime: string; time: string; utc_offset: string }
type DateAnswer = { timezone: string; date: string; weekday: string; iso_week: string; day_of_year: number }

/** get_time's answer to `args` with the clock stopped at `at`, arguments parsed as the gateway does. */
async function time(args: object, at = instant) {
  const tool = createGetTime(() => at)
  return await handedOver<TimeAnswer>(tool.execute(tool.inputSchema.parse(args), context))
}

async function date(args: object, at = instant) {
  const tool = createGetDate(() => at)
  return await handedOver<DateAnswer>(tool.execute(tool.inputSchema.parse(args), context))
}

describe('get_time', () => {
  it('answers UTC when no time zone is given', async () => {
    assert.deepEqual(await time({}), { timezone: 'UTC', datetime: '2026-01-01T00:30:00.250+00:00', time: '00:30:00', utc_offset: '+00:00' })
  })

  it('answers Asia/Tokyo nine hours ahead, already on 2026-01-01', async () => {
    assert.deepEqual(await time({ timezone: 'Asia/Tokyo' }), {
      timezone: 'Asia/Tokyo',
      datetime: '2026-01-01T09:30:00.250+09:00',
      time: '09:30:00',
      utc_offset: '+09:00',
    })
  })

  it('answers America/New_York five hours behind, still on 2025-12-31', async () => {
    assert.deepEqual(await time({ timezone: 'America/New_York' }), {
      timezone: 'America/New_York',
      datetime: '2025-12-31T19:30:00.250-05:00',
      time: '19:30:00',
      utc_offset: '-05:00',
    })
  })

  it('answers zones half an hour off the hour', async () => {
    const { timezone: _name, ...kolkata } = await time({ timezone: 'Asia/Kolkata' })
    assert.deepEqual(kolkata, { datetime: '2026-01-01T06:00:00.250+05:30', time: '06:00:00', utc_offset: '+05:30' })
    assert.equal((await time({ timezone: 'America/St_Johns' })).datetime, '2025-12-31T21:00:00.250-03:30')
  })

  it('follows daylight saving time: Europe/Paris is +01:00 in winter, +02:00 on 2026-07-01', async () => {
    assert.equal((await time({ timezone: 'Europe/Paris' })).utc_offset, '+01:00')
    assert.deepEqual(await time({ timezone: 'Europe/Paris' }, new Date('2026-07-01T12:00:00Z')), {
      timezone: 'Europe/Paris',
      datetime: '2026-07-01T14:00:00.000+02:00',
      time: '14:00:00',
      utc_offset: '+02:00',
    })
  })

  it('changes offset at the very instant the clocks change, both ways', async () => {
    const paris = async (iso: string) => (await time({ timezone: 'Europe/Paris' }, new Date(iso))).datetime
    assert.equal(await paris('2026-03-29T00:59:59.999Z'), '2026-03-29T01:59:59.999+01:00')
    assert.equal(await paris('2026-03-29T01:00:00.000Z'), '2026-03-29T03:00:00.000+02:00')
    // 02:30 happens twice on 2026-10-25; the offset tells which.
    assert.equal(await paris('2026-10-25T00:30:00.000Z'), '2026-10-25T02:30:00.000+02:00')
    assert.equal(await paris('2026-10-25T01:30:00.000Z'), '2026-10-25T02:30:00.000+01:00')
  })

  it('writes midnight as 00:00:00, never 24:00:00', async () => {
    const answer = await time({ timezone: 'America/New_York' }, new Date('2026-01-01T05:00:00Z'))
    assert.equal(answer.datetime, '2026-01-01T00:00:00.000-05:00')
    assert.equal(answer.time, '00:00:00')
  })

  it('answers an ISO 8601 datetime that names the very instant of the clock, in every zone', async () => {
    const instants = [instant, new Date('2026-07-01T12:00:00.007Z'), new Date('2026-10-25T01:30:00.999Z')]
    const zones = [
      'UTC',
      'Asia/Tokyo',
      'America/New_York',
      'Asia/Kolkata',
      'Europe/Paris',
      'Australia/Lord_Howe',
      'Pacific/Kiritimati',
      'Pacific/Pago_Pago',
    ]
    for (const at of instants) {
      for (const timezone of zones) {
        const { datetime } = await time({ timezone }, at)
        assert.match(datetime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/, `${timezone} at ${at.toISOString()}`)
        assert.equal(new Date(datetime).getTime(), at.getTime(), `${datetime} in ${timezone} is ${at.toISOString()}`)
      }
    }
  })

  it('answers the canonical name of a zone written in another case or with spaces around it', async () => {
    assert.equal((await time({ timezone: '  asia/tokyo ' })).timezone, 'Asia/Tokyo')
    assert.equal((await time({ timezone: 'utc' })).timezone, 'UTC')
  })

  it('answers the zone by the name it was asked for, not an older alias of it', async () => {
    for (const timezone of ['Asia/Kolkata', 'Europe/Kyiv', 'Asia/Ho_Chi_Minh', 'CET', 'EST']) {
      assert.equal((await time({ timezone })).timezone, timezone)
      assert.equal((await date({ timezone })).timezone, timezone)
    }
  })

  it('refuses an unknown time zone, or an unknown key, with a message the model can act on', () => {
    for (const tool of [createGetTime(), createGetDate()]) {
      const parsed = tool.inputSchema.safeParse({ timezone: 'Mars/Olympus_Mons' })
      assert.equal(parsed.success, false, tool.name)
      assert.deepEqual(
        parsed.error.issues.map((issue) => [issue.path, issue.message]),
        [[['timezone'], 'unknown IANA time zone; use a name such as "Europe/Paris", "America/New_York" or "UTC"']],
      )
      assert.equal(tool.inputSchema.safeParse({ timezone: '' }).success, false)
      assert.equal(tool.inputSchema.safeParse({ timezone: 9 }).success, false)
      assert.equal(tool.inputSchema.safeParse({ timezone: 'UTC', format: '12h' }).success, false)
    }
  })
})

describe('get_date', () => {
  it('answers UTC when no time zone is given', async () => {
    assert.deepEqual(await date({}), { timezone: 'UTC', date: '2026-01-01', weekday: 'Thursday', iso_week: '2026-W01', day_of_year: 1 })
  })

  it('answers the date where the time zone is, not where UTC is', async () => {
    assert.deepEqual(await date({ timezone: 'Asia/Tokyo' }), {
      timezone: 'Asia/Tokyo',
      date: '2026-01-01',
      weekday: 'Thursday',
      iso_week: '2026-W01',
      day_of_year: 1,
    })
    // Still New Year's Eve in New York, a Wednesday, yet already in ISO week 1 of 2026.
    assert.deepEqual(await date({ timezone: 'America/New_York' }), {
      timezone: 'America/New_York',
      date: '2025-12-31',
      weekday: 'Wednesday',
      iso_week: '2026-W01',
      day_of_year: 365,
    })
  })

  it('counts the day of the year, 366 on the last day of a leap year', async () => {
    const on = async (iso: string) => (await date({}, new Date(iso))).day_of_year
    assert.equal(await on('2026-02-01T12:00:00Z'), 32)
    assert.equal(await on('2026-03-01T12:00:00Z'), 60)
    assert.equal(await on('2024-03-01T12:00:00Z'), 61)
    assert.equal(await on('2024-12-31T12:00:00Z'), 366)
    assert.equal(await on('2026-12-31T12:00:00Z'), 365)
  })

  it('answers ISO weeks at year boundaries: the Thursday decides the year', async () => {
    assert.deepEqual(await date({}, new Date('2027-01-01T12:00:00Z')), {
      timezone: 'UTC',
      date: '2027-01-01',
      weekday: 'Friday',
      iso_week: '2026-W53',
      day_of_year: 1,
    })
    assert.deepEqual(await date({}, new Date('2024-12-30T12:00:00Z')), {
      timezone: 'UTC',
      date: '2024-12-30',
      weekday: 'Monday',
      iso_week: '2025-W01',
      day_of_year: 365,
    })
    const weeks = [
      [2021, 1, 3, '2020-W53'],
      [2021, 1, 4, '2021-W01'],
      [2026, 1, 4, '2026-W01'],
      [2026, 1, 5, '2026-W02'],
      [2026, 11, 24, '2026-W48'],
      [2026, 12, 31, '2026-W53'],
      [2027, 1, 3, '2026-W53'],
      [2027, 1, 4, '2027-W01'],
      [2028, 1, 1, '2027-W52'],
    ] as const
    for (const [year, month, day, week] of weeks)
      assert.equal(isoWeek(year, month, day), week, `${String(year)}-${String(month)}-${String(day)}`)
  })
})
