import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import type { ollama } from '../../src/providers/ollama.ts'
import { buildTestApp, listen } from '../helpers/app.ts'

type Reply = ExecuteReply<ReturnType<typeof ollama.answers>[number]> & { error?: { code: string; message: string; path?: string } }

interface OllamaCall {
  id?: string
  function: { index?: number; name: string; arguments: object }
}

const call = (name: string, timezone: string, id?: string): OllamaCall => ({
  ...(id === undefined ? {} : { id }),
  function: { name, arguments: { timezone } },
})

/** One chunk of a streamed /api/chat response, as Ollama writes it: the message so far, not done. */
function chunk(content: string, toolCalls?: OllamaCall[]) {
  return {
    model: 'qwen3:8b',
    created_at: '2026-11-30T09:15:02.125Z',
    message: { role: 'assistant', content, ...(toolCalls === undefined ? {} : { tool_calls: toolCalls }) },
    done: false,
  }
}

/** The closing chunk: empty message, done, with the stats. */
const doneChunk = {
  ...chunk(''),
  done: true,
  done_reason: 'stop',
  total_duration: 1_204_000_000,
  load_duration: 21_000_000,
  prompt_eval_count: 140,
  prompt_eval_duration: 300_000_000,
  eval_count: 42,
  eval_duration: 880_000_000,
}

/** Some thinking text, then parallel calls in chunks of their own, then the done chunk. */
const stream = (calls: OllamaCall[]) => [chunk('Let me'), chunk(' check.'), ...calls.map((one) => chunk('', [one])), doneChunk]

async function post(t: TestContext, body: string, contentType = 'application/json'): Promise<{ status: number; reply: Reply }> {
  const base = await listen(await buildTestApp(t))
  const response = await fetch(`${base}/execute`, { method: 'POST', headers: { 'content-type': contentType }, body })
  return { status: response.status, reply: (await response.json()) as Reply }
}

const ndjson = (chunks: readonly object[]) => chunks.map((one) => `${JSON.stringify(one)}\n`).join('')

/** Each answer's tool and the zone its output is for, to see every call answered in order. */
function answered(reply: Reply): Array<[string | undefined, string | undefined]> {
  return reply.messages.map((message) => [message.tool_name, (JSON.parse(message.content) as { timezone?: string }).timezone])
}

describe('Ollama streamed /api/chat', () => {
  const calls = [call('get_time', 'Asia/Tokyo'), call('get_date', 'Europe/Paris'), call('get_time', 'America/New_York')]
  const expected = [
    ['get_time', 'Asia/Tokyo'],
    ['get_date', 'Europe/Paris'],
    ['get_time', 'America/New_York'],
  ]

  it('runs every call of every chunk, in order, from the chunks as a JSON array', async (t) => {
    const { status, reply } = await post(t, JSON.stringify(stream(calls)))
    assert.equal(status, 200)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(answered(reply), expected)
    assert.deepEqual(
      reply.results.map((result) => [result.ok, result.name]),
      calls.map((one) => [true, one.function.name]),
    )
    // Calls without ids are told apart across chunks, and no made-up id is sent back.
    assert.equal(new Set(reply.results.map((result) => result.id)).size, 3)
    assert.ok(reply.messages.every((message) => !('tool_call_id' in message)))
  })

  it('takes the raw application/x-ndjson text as well', async (t) => {
    const { status, reply } = await post(t, ndjson(stream(calls)), 'application/x-ndjson')
    assert.equal(status, 200)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(answered(reply), expected)
  })

  it('takes a stream whose calls came in its done chunk (older servers)', async (t) => {
    const { reply } = await post(
      t,
      ndjson([chunk('Checking.'), { ...doneChunk, message: { role: 'assistant', content: '', tool_calls: calls } }]),
      'application/x-ndjson',
    )
    assert.equal(reply.status, 'complete')
    assert.deepEqual(answered(reply), expected)
  })

  it('answers a stream of text alone as empty', async (t) => {
    const { status, reply } = await post(t, ndjson([chunk('It is'), chunk(' noon.'), doneChunk]), 'application/x-ndjson')
    assert.equal(status, 200)
    assert.equal(reply.status, 'empty')
    assert.deepEqual(reply.messages, [])
  })

  it('answers each call with its id as tool_call_id when the server sent one', async (t) => {
    const withIds = [call('get_time', 'Asia/Tokyo', 'call_k3v9'), call('get_date', 'Europe/Paris', 'call_p0x2')]
    const { reply } = await post(t, JSON.stringify(stream(withIds)))
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.messages.map(({ content: _content, ...message }) => message),
      [
        { role: 'tool', tool_name: 'get_time', tool_call_id: 'call_k3v9' },
        { role: 'tool', tool_name: 'get_date', tool_call_id: 'call_p0x2' },
      ],
    )
    assert.deepEqual(
      reply.results.map((result) => result.id),
      ['call_k3v9', 'call_p0x2'],
    )
  })

  it('refuses a malformed call in a later chunk, naming its field', async (t) => {
    const broken = stream(calls)
    broken.splice(3, 0, chunk('', [{ function: { arguments: { timezone: 'UTC' } } } as unknown as OllamaCall]))
    const { status, reply } = await post(t, JSON.stringify(broken))
    assert.equal(status, 400)
    assert.equal(reply.error?.code, 'invalid_payload')
    assert.equal(reply.error.path, 'body[3].message.tool_calls[0].function.name')
  })

  it('refuses a malformed call in the raw text too', async (t) => {
    const broken = [chunk('', [{ function: { name: 42 } } as unknown as OllamaCall]), doneChunk]
    const { status, reply } = await post(t, ndjson(broken), 'application/x-ndjson')
    assert.equal(status, 400)
    assert.equal(reply.error?.code, 'invalid_payload')
  })

  it('refuses a stream that Ollama ended with an error, running none of its calls', async (t) => {
    const { status, reply } = await post(
      t,
      JSON.stringify([chunk('', [calls[0] as OllamaCall]), { error: 'model runner has unexpectedly stopped' }]),
    )
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body[1].error')
    assert.match(reply.error.message, /ended the stream with an error/)
  })
})

describe('Ollama /api/chat answers', () => {
  it('carry tool_call_id for a call with an id, and none for a call without', async (t) => {
    const response = {
      model: 'qwen3:8b',
      created_at: '2026-11-30T09:15:02.125Z',
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [
          { id: 'call_7f2q', function: { index: 0, name: 'get_time', arguments: { timezone: 'Europe/Paris' } } },
          call('get_date', 'Europe/Paris'),
        ],
      },
      done: true,
    }
    const { reply } = await post(t, JSON.stringify(response))
    assert.equal(reply.status, 'complete')
    const [withId, withoutId] = reply.messages.map(({ content: _content, ...message }) => message)
    assert.deepEqual(withId, { role: 'tool', tool_name: 'get_time', tool_call_id: 'call_7f2q' })
    assert.deepEqual(withoutId, { role: 'tool', tool_name: 'get_date' })
    assert.equal(reply.results[0]?.id, 'call_7f2q')
  })
})
