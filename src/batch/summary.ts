import { z } from 'zod'
import type { CallResult } from './call-result.ts'

export const statusSchema = z
  .enum(['complete', 'partial', 'failed', 'empty', 'pending', 'awaiting_approval'])
  .describe(
    'complete: every call succeeded; partial: some did; failed: none did; empty: the payload held no calls; pending: some calls are still running (a Prefer: wait deadline passed; the rest is at Location); awaiting_approval: none is running, and some await a human decision (results[].approval).',
  )

export const errorsSchema = z
  .string()
  .nullable()
  .describe('null when every call succeeded, else "Multiple errors occurred:" and one "<name>: <message>" line per failed call.')

export const timingSchema = z.object({
  wallMs: z.number().describe('Wall time of the batch.'),
  sumMs: z.number().describe("Sum of the calls' durations: what running them one after another would take."),
})

/** What a batch came to, without its answers: what a stream's last event tells. */
export const batchSummarySchema = z.object({ status: statusSchema, errors: errorsSchema, timing: timingSchema })

export type BatchSummary = z.output<typeof batchSummarySchema>
export type BatchStatus = BatchSummary['status']

/** What an answered batch came to: completeness, aggregated errors, timing. */
export function summarize(results: readonly CallResult[], wallMs: number): BatchSummary {
  return {
    status: completenessStatus(results),
    errors: aggregateErrors(results),
    timing: { wallMs, sumMs: Math.round(results.reduce((sum, result) => sum + result.durationMs, 0) * 100) / 100 },
  }
}

/** The sketch's completeness check: all succeeded, some, none, or there was nothing to run. */
export function completenessStatus(calls: readonly Pick<CallResult, 'ok' | 'error'>[]): BatchStatus {
  if (calls.length === 0) return 'empty'
  if (calls.some((call) => call.error?.code === 'pending')) return 'pending'
  if (calls.some((call) => call.error?.code === 'awaiting_approval')) return 'awaiting_approval'
  const succeeded = calls.filter((call) => call.ok).length
  if (succeeded === calls.length) return 'complete'
  return succeeded === 0 ? 'failed' : 'partial'
}

/** The sketch's error aggregation, for a model or a log: one line per failed call. */
export function aggregateErrors(calls: readonly Pick<CallResult, 'name' | 'error'>[]): string | null {
  const lines = calls.flatMap((call) => (call.error ? [`${call.name}: ${call.error.message}`] : []))
  return lines.length === 0 ? null : `Multiple errors occurred:\n${lines.join('\n')}`
}
