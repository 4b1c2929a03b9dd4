import { RequestError } from '../errors.ts'
import type { RawToolCall } from '../providers/provider.ts'

/**
 * The calls of a payload, once the batch as a whole is acceptable: not more calls than allowed,
 * and no id answered twice (a provider rejects a conversation where that happens).
 */
export function checkBatch(calls: RawToolCall[], maxCallsPerRequest: number): RawToolCall[] {
  const firstExcess = calls[maxCallsPerRequest]
  if (firstExcess !== undefined) {
    throw new RequestError(
      'too_many_calls',
      `The payload holds ${String(calls.length)} tool calls; at most ${String(maxCallsPerRequest)} are accepted per request.`,
      { path: bodyPath(firstExcess.path) },
    )
  }
  const seen = new Set<string>()
  for (const call of calls) {
    if (seen.has(call.id)) {
      throw new RequestError('duplicate_tool_call_id', 'Two tool calls share one id; every call needs its own.', {
        path: `${bodyPath(call.path)}.id`,
      })
    }
    seen.add(call.id)
  }
  return calls
}

function bodyPath(path: string): string {
  return path.startsWith('[') ? `body${path}` : `body.${path}`
}
