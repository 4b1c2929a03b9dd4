/** The body of a batch: an assistant message asking for `calls` (tool name, arguments) at once. */
export function message(calls: Array<[name: string, args: object]>): string {
  return JSON.stringify({
    role: 'assistant',
    content: null,
    tool_calls: calls.map(([name, args], index) => ({
      id: `call_${String(index)}`,
      type: 'function',
      function: { name, arguments: JSON.stringify(args) },
    })),
  })
}

/** Three synchronous no-op calls: what toolgate itself costs. */
export const noopBody = message([
  ['noop_a', { a: 'x' }],
  ['noop_b', { a: 'x' }],
  ['noop_c', { a: 'x' }],
])

/** The built-in clock tools, as the reference query asks them. */
export const clockBody = message([
  ['get_time', { timezone: 'Asia/Tokyo' }],
  ['get_date', { timezone: 'Asia/Tokyo' }],
  ['get_time', { timezone: 'Europe/Paris' }],
])
