import { z } from 'zod'
import { formatPath } from '../errors.ts'

/**
 * The items of a list that are calls (Responses output items, Anthropic content blocks, Gemini
 * parts), checked with `schema`, each issue reported at its own path; other items are passed over.
 * Undefined when one of them is malformed (its issues are in `context`).
 */
export function callsAmong<Item extends object, Call extends z.ZodType>(
  list: readonly Item[],
  listPath: PropertyKey[],
  isCall: (item: Item) => boolean,
  schema: Call,
  context: z.core.$RefinementCtx,
): Array<{ call: z.output<Call>; index: number; path: string }> | undefined {
  const calls: Array<{ call: z.output<Call>; index: number; path: string }> = []
  let valid = true
  for (const [index, item] of list.entries()) {
    if (!isCall(item)) continue
    const parsed = schema.safeParse(item)
    if (parsed.success) {
      calls.push({ call: parsed.data, index, path: formatPath([...listPath, index]) })
      continue
    }
    valid = false
    for (const issue of parsed.error.issues) {
      context.issues.push({ code: 'custom', message: issue.message, input: item, path: [...listPath, index, ...issue.path] })
    }
  }
  return valid ? calls : undefined
}

/** Items of any type: the calls among them are told by `type` and checked on their own. */
export const anyItems = z.array(z.looseObject({ type: z.string() }))
