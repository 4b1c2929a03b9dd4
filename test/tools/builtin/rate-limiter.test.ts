import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RateLimiter } from '../../../src/tools/builtin/rate-limiter.ts'

const never = new AbortController().signal

/** Acquires once per signal, at once; resolves with when each was granted (ms after the start, in order of grant). */
async function grants(limiter: RateLimiter, signals: AbortSignal[]) {
  const started = performance.now()
  const order: number[] = []
  const times = await Promise.all(
    signals.map(async (signal, index) => {
      await limiter.acquire(signal)
      order.push(index)
      return performance.now() - started
    }),
  )
  return { times, order }
}

/** `actual` is `expected` ms, give or take the timers' granularity and a busy machine. */
function near(actual: number, expected: number): void {
  assert.ok(actual >= expected - 2 && actual < expected + 150, `${String(Math.round(actual))} ms, expected about ${String(expected)}`)
}

describe('RateLimiter', () => {
  it('grants up to the limit at once, and the next when the first leaves the window', async () => {
    const limiter = new RateLimiter([{ requests: 3, perMs: 200 }])
    const { times, order } = await grants(limiter, [never, never, never, never])
    times.slice(0, 3).forEach((ms) => {
      near(ms, 0)
    })
    near(times[3] ?? Number.NaN, 200)
    assert.deepEqual(order, [0, 1, 2, 3])
  })

  it('holds every limit at once: a short window and a long one', async () => {
    // 2 per 100 ms and 3 per 400 ms: at 0, 0, 100 (the short window), then 400 (the long one) twice.
    const limiter = new RateLimiter([
      { requests: 2, perMs: 100 },
      { requests: 3, perMs: 400 },
    ])
    const { times, order } = await grants(limiter, [never, never, never, never, never])
    ;[0, 0, 100, 400, 400].forEach((expected, index) => {
      near(times[index] ?? Number.NaN, expected)
    })
    assert.deepEqual(order, [0, 1, 2, 3, 4])
  })

  it('rejects a waiting request with its signal reason when aborted, which then takes no turn', async () => {
    const limiter = new RateLimiter([{ requests: 1, perMs: 150 }])
    await limiter.acquire(never)
    const deadline = new AbortController()
    const started = performance.now()
    const abandoned = limiter.acquire(deadline.signal)
    const next = limiter.acquire(never)
    assert.equal(limiter.waiting, 2)
    setTimeout(() => {
      deadline.abort(new Error('deadline'))
    }, 20)
    await assert.rejects(abandoned, { message: 'deadline' })
    near(performance.now() - started, 20)
    assert.equal(limiter.waiting, 1)
    await next
    near(performance.now() - started, 150)
    assert.equal(limiter.waiting, 0)
  })

  it('rejects at once for a signal already aborted, counting nothing', async () => {
    const limiter = new RateLimiter([{ requests: 1, perMs: 60_000 }])
    const aborted = AbortSignal.abort(new Error('gone'))
    await assert.rejects(limiter.acquire(aborted), { message: 'gone' })
    await limiter.acquire(never)
    assert.equal(limiter.waiting, 0)
  })

  it('refuses a limit that is not a positive number of requests per positive time', () => {
    assert.throws(() => new RateLimiter([{ requests: 0, perMs: 1_000 }]), RangeError)
    assert.throws(() => new RateLimiter([{ requests: 1.5, perMs: 1_000 }]), RangeError)
    assert.throws(() => new RateLimiter([{ requests: 1, perMs: 0 }]), RangeError)
  })
})
