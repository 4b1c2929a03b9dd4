import secureJson from 'secure-json-parse'

const parseJson = (text: string): unknown =>
  secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) as unknown

/**
 * The JSON events of a raw streamed response, as a caller hands it over: server-sent events
 * (`data: {...}` lines, `event:` lines passed over, up to `data: [DONE]`) as OpenAI, Anthropic and
 * Gemini stream, or newline-delimited JSON as Ollama streams. Throws on an event that is not JSON.
 */
export function parseEventStream(text: string): unknown[] {
  return /^data:/m.test(text) ? parseServerSentEvents(text) : parseNdjson(text)
}

function parseServerSentEvents(text: string): unknown[] {
  const events: unknown[] = []
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n')
    if (data === '') continue
    if (data === '[DONE]') break
    events.push(parseJson(data))
  }
  return events
}

function parseNdjson(text: string): unknown[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map(parseJson)
}
