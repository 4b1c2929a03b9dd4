import type { RawToolCall } from '../providers/provider.ts'
import type { AnsweredCall } from './call-result.ts'
import type { BatchSummary } from './summary.ts'

/**
 * What can watch a batch run: the call log, metrics, tracing and a streamed reply each implement
 * the parts they need. Called synchronously, in this order for each call: started (when it is
 * taken up, before it waits for a slot), answered (as soon as it is settled, in completion order);
 * then once for the batch: answered, or failed (refused whole). An observer must not throw.
 */
export interface BatchObserver {
  callStarted?: (call: RawToolCall, index: number) => void
  callAnswered?: (answered: AnsweredCall, index: number) => void
  batchAnswered?: (summary: BatchSummary) => void
  /** The batch was refused whole (a RequestError: too many calls, queue full...) or failed; nothing more comes. */
  batchFailed?: (error: unknown) => void
}

/** One observer telling each of `observers` in turn; the absent ones are left out. */
export function composeObservers(...observers: Array<BatchObserver | undefined>): BatchObserver {
  const present = observers.filter((observer) => observer !== undefined)
  const started = present.filter((observer) => observer.callStarted)
  const answered = present.filter((observer) => observer.callAnswered)
  const done = present.filter((observer) => observer.batchAnswered)
  const refused = present.filter((observer) => observer.batchFailed)
  return {
    callStarted: (call, index) => {
      for (const observer of started) observer.callStarted?.(call, index)
    },
    callAnswered: (call, index) => {
      for (const observer of answered) observer.callAnswered?.(call, index)
    },
    batchAnswered: (summary) => {
      for (const observer of done) observer.batchAnswered?.(summary)
    },
    batchFailed: (error) => {
      for (const observer of refused) observer.batchFailed?.(error)
    },
  }
}
