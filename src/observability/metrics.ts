import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AnsweredCall } from '../batch/call-result.ts'
import type { BatchObserver } from '../batch/observer.ts'
import type { BatchSummary } from '../batch/summary.ts'

/** The `tool` label of calls of a tool that does not exist. */
const unknownToolLabel = '(unknown)'

const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** What GET /metrics exposes, in Prometheus' text format; it observes every batch. */
export class Metrics implements BatchObserver {
  readonly registry = new Registry()
  readonly #calls = new Counter({
    name: 'toolgate_calls_total',
    help: 'Calls answered, by tool and outcome (ok or error code).',
    labelNames: ['tool', 'outcome'],
    registers: [this.registry],
  })
  readonly #duration = new Histogram({
    name: 'toolgate_call_duration_seconds',
    help: 'From the first attempt to the answer, by tool.',
    labelNames: ['tool'],
    buckets: seconds,
    registers: [this.registry],
  })
  readonly #queued = new Histogram({
    name: 'toolgate_call_queue_wait_seconds',
    help: 'Time calls waited for a slot.',
    buckets: seconds,
    registers: [this.registry],
  })
  readonly #retries = new Counter({
    name: 'toolgate_call_retries_total',
    help: 'Attempts beyond the first, by tool.',
    labelNames: ['tool'],
    registers: [this.registry],
  })
  readonly #batches = new Counter({
    name: 'toolgate_batches_total',
    help: 'Batches answered, by status.',
    labelNames: ['status'],
    registers: [this.registry],
  })
  readonly #uncaught = new Counter({
    name: 'toolgate_uncaught_failures_total',
    help: 'Exceptions and rejections no call caught (a tool failing outside its call); logged, and served on.',
    registers: [this.registry],
  })
  readonly #http = new Counter({
    name: 'toolgate_http_requests_total',
    help: 'HTTP requests, by route and status code.',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  })

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

  // Labelled children are looked up once: prom-client hashes the labels on every unbound call,
  // which showed in the throughput of /execute.
  readonly #callChildren = new Map<string, { inc: () => void }>()
  readonly #durationChildren = new Map<string, { observe: (value: number) => void }>()

  callAnswered({ result }: AnsweredCall): void {
    const outcome = result.error?.code ?? 'ok'
    // The model chooses names: one it made up is counted under one label, or every made-up name
    // would be a series of its own, and memory would grow with what the model writes.
    const tool = outcome === 'unknown_tool' ? unknownToolLabel : result.name
    const key = `${tool}\n${outcome}`
    let calls = this.#callChildren.get(key)
    if (calls === undefined) {
      calls = this.#calls.labels(tool, outcome)
      this.#callChildren.set(key, calls)
    }
    calls.inc()
    if (result.attempts > 0) {
      let duration = this.#durationChildren.get(result.name)
      if (duration === undefined) {
        duration = this.#duration.labels(result.name)
        this.#durationChildren.set(result.name, duration)
      }
      duration.observe(result.durationMs / 1000)
      this.#queued.observe(result.queuedMs / 1000)
    }
    if (result.attempts > 1) this.#retries.inc({ tool: result.name }, result.attempts - 1)
  }

  uncaughtFailure(): void {
    this.#uncaught.inc()
  }

  batchAnswered({ status }: BatchSummary): void {
    this.#batches.inc({ status })
  }

  httpAnswered(route: string, status: number): void {
    this.#http.inc({ route, status: String(status) })
  }
}
