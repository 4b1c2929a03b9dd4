import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** What happened to every request of a load run, by outcome. */
export class LoadTally {
  sent = 0
  /** Replies by HTTP status, and by error code for the refused ones. */
  readonly byStatus = new Map<string, number>()
  /** Replies or failures toolgate must never give: any status but 200, 429 and 503, a 429/503 without Retry-After, a 200 whose answers are not whole, a socket error. */
  readonly unexpected: string[] = []
  /** Network failures, by code (ECONNREFUSED once a server has closed its listener is expected there). */
  readonly networkErrors = new Map<string, number>()
  /** Request ids that failed at the network level, to check against the server's log. */
  readonly failedIds: string[] = []
  readonly admittedLatencyMs: number[] = []
  admittedCalls = 0

  count(key: string): void {
    this.byStatus.set(key, (this.byStatus.get(key) ?? 0) + 1)
  }

  get admitted(): number {
    return this.byStatus.get('200') ?? 0
  }

  percentile(p: number): number {
    const sorted = [...this.admittedLatencyMs].sort((a, b) => a - b)
    return sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN)
  }
}

export interface Batch {
  body: string
  ids: string[]
  authorization: string
}

/**
 * Sends one batch and records its fate: 200 with every call answered in order, 429/503 with
 * Retry-After, anything else counted as unexpected.
 */
export async function sendBatch(base: string, batch: Batch, requestId: string, tally: LoadTally): Promise<void> {
  tally.sent++
  const started = performance.now()
  let response: Response
  try {
    response = await fetch(`${base}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: batch.authorization, 'x-request-id': requestId },
      body: batch.body,
      signal: AbortSignal.timeout(60_000),
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause
    const code = cause?.code ?? (error as Error).name
    tally.networkErrors.set(code, (tally.networkErrors.get(code) ?? 0) + 1)
    tally.failedIds.push(requestId)
    return
  }
  let body: { status?: string; results?: Array<{ id: string }>; error?: { code: string } }
  try {
    body = (await response.json()) as typeof body
  } catch {
    tally.unexpected.push(`${String(response.status)} with a body that is not JSON`)
    return
  }
  const latencyMs = performance.now() - started
  if (response.status === 200) {
    tally.count('200')
    const ids = body.results?.map((result) => result.id) ?? []
    if (ids.length !== batch.ids.length || ids.some((id, index) => id !== batch.ids[index])) {
      tally.unexpected.push(`200 whose answers are ${JSON.stringify(ids)}, not ${JSON.stringify(batch.ids)}`)
      return
    }
    tally.admittedCalls += ids.length
    tally.admittedLatencyMs.push(latencyMs)
    return
  }
  const code = body.error?.code ?? 'no code'
  tally.count(`${String(response.status)} ${code}`)
  if (response.status !== 429 && response.status !== 503) tally.unexpected.push(`${String(response.status)} ${code}`)
  else if (response.headers.get('retry-after') === null) tally.unexpected.push(`${String(response.status)} ${code} without Retry-After`)
}

/**
 * Open loop: sends at `rate` requests per second for `seconds`, whatever the replies take (a
 * closed loop would slow down with the server and hide its overload). Resolves when every
 * request sent has its fate.
 */
export async function openLoop(options: {
  rate: number
  seconds: number
  next: (index: number) => Batch
  send: (batch: Batch, index: number) => Promise<void>
  onTick?: () => void
}): Promise<{ offeredRate: number }> {
  const pending = new Set<Promise<void>>()
  const started = performance.now()
  const total = Math.round(options.rate * options.seconds)
  let index = 0
  while (index < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.rate))
    for (; index < due; index++) {
      const sending = options.send(options.next(index), index)
      pending.add(sending)
      void sending.finally(() => pending.delete(sending))
    }
    options.onTick?.()
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const sendingMs = performance.now() - started
  await Promise.all(pending)
  return { offeredRate: total / (sendingMs / 1000) }
}

/** Closed loop: `workers` clients each sending as soon as their last reply came, for `seconds`. */
export async function closedLoop(options: {
  workers: number
  seconds: number
  next: (index: number) => Batch
  send: (batch: Batch, index: number) => Promise<void>
}): Promise<void> {
  const until = performance.now() + options.seconds * 1000
  let index = 0
  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      while (performance.now() < until) await options.send(options.next(index), index++)
    }),
  )
}

/** Resident memory of a process now and at its peak, in MiB (Linux). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
}

/** CPU time a process has used, in seconds (Linux; clock ticks of 1/100 s). */
export function cpuSecondsOf(pid: number): number {
  const fields =
    readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
      .split(') ')[1]
      ?.split(' ') ?? []
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Sockets a process holds open (Linux). */
export function openSocketsOf(pid: number): number {
  let sockets = 0
  for (const fd of readdirSync(`/proc/${String(pid)}/fd`)) {
    try {
      if (readlinkSync(`/proc/${String(pid)}/fd/${fd}`).startsWith('socket:')) sockets++
    } catch {
      // closed meanwhile
    }
  }
  return sockets
}
