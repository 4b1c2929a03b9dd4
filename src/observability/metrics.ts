import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import type { AnsweredCall } from '../batch/call-result.ts'
import type { BatchObserver } from '../batch/observer.ts'
import type { BatchSummary } from '../batch/summary.ts'

/** The `tool` label of calls of a tool that does not exist. */
const unknownToolLabel = '(unknown)'

const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/**
 * One series of a counter, resolved once: counted as a plain number on the hot path and added to
 * the prom-client counter when it is scraped. (A prom-client child hashes and checks its labels
 * on every increment; three calls' worth of them cost more than the calls.)
 */
class CounterSeries {
  pending = 0
  readonly labels: Record<string, string>

  constructor(labels: Record<string, string>) {
    this.labels = labels
  }
}

/** A prom-client counter whose series are counted in CounterSeries and added to it on each scrape. */
function bufferedCounter(config: { name: string; help: string; labelNames: string[]; registry: Registry }) {
  const series: CounterSeries[] = []
  new Counter({
    name: config.name,
    help: config.help,
    labelNames: config.labelNames,
    registers: [config.registry],
    collect() {
      for (const each of series) {
        if (each.pending === 0) continue
        this.inc(each.labels, each.pending)
        each.pending = 0
      }
    },
  })
  return (labels: Record<string, string>): CounterSeries => {
    const made = new CounterSeries(labels)
    series.push(made)
    return made
  }
}

/** One series of a histogram: its bucket counts (not cumulative), sum and count. */
class HistogramSeries {
  readonly labels: Record<string, string>
  readonly #bounds: readonly number[]
  readonly counts: number[]
  sum = 0
  count = 0

  constructor(labels: Record<string, string>, bounds: readonly number[]) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = bounds.map(() => 0)
  }

  observe(value: number): void {
    // What prom-client's observe refuses; the values observed here are differences of clocks.
    if (!Number.isFinite(value)) return
    const bounds = this.#bounds
    for (let index = 0; index < bounds.length; index++) {
      if (value <= (bounds[index] as number)) {
        ;(this.counts[index] as number)++
        break
      }
    }
    this.sum += value
    this.count += 1
  }
}

/**
 * A histogram with series resolved once, exposed to the registry as prom-client's Histogram is:
 * the same lines (`_bucket` with `le` first, `+Inf`, `_sum`, `_count`) in the same order, series
 * in the order they were first observed, and the series of an unlabelled one there from the start.
 */
class SeriesHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series: HistogramSeries[] = []

  constructor(config: { name: string; help: string; buckets: readonly number[]; registry: Registry }) {
    this.name = config.name
    this.help = config.help
    this.#bounds = config.buckets
    // The registry reads a metric through get() (and reset() on resetMetrics); it is typed for its own classes.
    config.registry.registerMetric(this as unknown as Metric)
  }

  series(labels: Record<string, string>): HistogramSeries {
    const made = new HistogramSeries(labels, this.#bounds)
    this.#series.push(made)
    return made
  }

  get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = []
    for (const series of this.#series) {
      // A labelled series is made by its first observation; prom-client lists it from then on.
      if (series.count === 0 && Object.keys(series.labels).length > 0) continue
      let cumulative = 0
      for (const [index, bound] of this.#bounds.entries()) {
        cumulative += series.counts[index] ?? 0
        values.push({ labels: { le: bound, ...series.labels }, value: cumulative, metricName: `${this.name}_bucket` })
      }
      values.push({ labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: `${this.name}_bucket` })
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` })
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` })
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values })
  }

  reset(): void {
    for (const series of this.#series) {
      series.counts.fill(0)
      series.sum = 0
      series.count = 0
    }
  }
}

/** What is counted of the calls of one tool (or of the made-up ones), resolved on its first call. */
interface ToolSeries {
  outcomes: Map<string, CounterSeries>
  duration: HistogramSeries | undefined
  retries: CounterSeries | undefined
}

/** What GET /metrics exposes, in Prometheus' text format; it observes every batch. */
export class Metrics implements BatchObserver {
  readonly registry = new Registry()
  readonly #calls = bufferedCounter({
    name: 'toolgate_calls_total',
    help: 'Calls answered, by tool and outcome (ok or error code).',
    labelNames: ['tool', 'outcome'],
    registry: this.registry,
  })
  readonly #duration = new SeriesHistogram({
    name: 'toolgate_call_duration_seconds',
    help: 'From the first attempt to the answer, by tool.',
    buckets: seconds,
    registry: this.registry,
  })
  readonly #queued = new SeriesHistogram({
    name: 'toolgate_call_queue_wait_seconds',
    help: 'Time calls waited for a slot.',
    buckets: seconds,
    registry: this.registry,
  }).series({}) // unlabelled: its one series, listed (at 0) from the start as prom-client's is
  readonly #retries = bufferedCounter({
    name: 'toolgate_call_retries_total',
    help: 'Attempts beyond the first, by tool.',
    labelNames: ['tool'],
    registry: this.registry,
  })
  readonly #batches = bufferedCounter({
    name: 'toolgate_batches_total',
    help: 'Batches answered, by status.',
    labelNames: ['status'],
    registry: this.registry,
  })
  readonly #uncaught = new Counter({
    name: 'toolgate_uncaught_failures_total',
    help: 'Exceptions and rejections no call caught (a tool failing outside its call); logged, and served on.',
    registers: [this.registry],
  })
  readonly #http = bufferedCounter({
    name: 'toolgate_http_requests_total',
    help: 'HTTP requests, by route and status code.',
    labelNames: ['route', 'status'],
    registry: this.registry,
  })

  /**
   * The series, resolved once each. They are bounded without being dropped: a tool label is a
   * registered tool's name or '(unknown)' (a made-up name is never one), outcomes and statuses are
   * fixed lists, routes are the registered patterns or 'unmatched'; and prom-client keeps a series
   * once it has counted, so a tool a reload removed keeps its series here as there.
   */
  readonly #tools = new Map<string, ToolSeries>()
  readonly #statuses = new Map<string, CounterSeries>()
  readonly #routes = new Map<string, Map<number, CounterSeries>>()

  /** @param calls the executor's running and waiting calls, read when scraped */
  constructor(calls: () => { running: number; waiting: number; abandoned: number }) {
    // The process's own: resident memory, heap by space, event-loop lag, GC time, open handles.
    collectDefaultMetrics({ register: this.registry })
    const gauges = {
      running: ['toolgate_calls_running', 'Calls running now.'],
      waiting: ['toolgate_calls_waiting', 'Calls admitted and waiting for a slot.'],
      abandoned: ['toolgate_calls_abandoned', 'Calls answered (timed out, cancelled) whose tools ignored the abort and still run.'],
    } as const
    for (const [stat, [name, help]] of Object.entries(gauges)) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(calls()[stat as keyof typeof gauges])
        },
      })
    }
  }

  /** `toolgate_state_store_up`: whether the shared state answers (always 1 in memory), read when scraped. */
  watchStateStore(up: () => boolean, kind: string): void {
    new Gauge({
      name: 'toolgate_state_store_up',
      help: 'Whether the state store (idempotency records, call outcomes, late results) answers: 1 or 0.',
      labelNames: ['store'],
      registers: [this.registry],
      collect() {
        this.set({ store: kind }, up() ? 1 : 0)
      },
    })
  }

  callAnswered({ result }: AnsweredCall): void {
    const outcome = result.error?.code ?? 'ok'
    // The model chooses names: one it made up is counted under one label, or every made-up name
    // would be a series of its own, and memory would grow with what the model writes.
    const tool = outcome === 'unknown_tool' ? unknownToolLabel : result.name
    let series = this.#tools.get(tool)
    if (series === undefined) {
      series = { outcomes: new Map(), duration: undefined, retries: undefined }
      this.#tools.set(tool, series)
    }
    let calls = series.outcomes.get(outcome)
    if (calls === undefined) {
      calls = this.#calls({ tool, outcome })
      series.outcomes.set(outcome, calls)
    }
    calls.pending++
    if (result.attempts > 0) {
      ;(series.duration ??= this.#duration.series({ tool: result.name })).observe(result.durationMs / 1000)
      this.#queued.observe(result.queuedMs / 1000)
    }
    if (result.attempts > 1) (series.retries ??= this.#retries({ tool: result.name })).pending += result.attempts - 1
  }

  uncaughtFailure(): void {
    this.#uncaught.inc()
  }

  batchAnswered({ status }: BatchSummary): void {
    let series = this.#statuses.get(status)
    if (series === undefined) {
      series = this.#batches({ status })
      this.#statuses.set(status, series)
    }
    series.pending++
  }

  httpAnswered(route: string, status: number): void {
    let statuses = this.#routes.get(route)
    if (statuses === undefined) {
      statuses = new Map()
      this.#routes.set(route, statuses)
    }
    let series = statuses.get(status)
    if (series === undefined) {
      series = this.#http({ route, status: String(status) })
      statuses.set(status, series)
    }
    series.pending++
  }
}
