import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { ExecuteReply } from '../../src/batch/format-reply.ts'
import { gemini } from '../../src/providers/gemini.ts'
import { jsonPathSegments } from '../../src/providers/gemini-stream.ts'
import { buildTestApp, listen } from '../helpers/app.ts'

type FunctionResponses = {
  role: 'user'
  parts: Array<{ functionResponse: { name: string; id?: string; response: { timezone?: string } } }>
}
type Reply = ExecuteReply<FunctionResponses> & { error?: { code: string; message: string; path?: string } }

async function post(t: TestContext, body: unknown, contentType = 'application/json'): Promise<{ status: number; reply: Reply }> {
  const base = await listen(await buildTestApp(t))
  const response = await fetch(`${base}/execute?format=gemini`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, reply: (await response.json()) as Reply }
}

/**
 * The answer as Gemini's API takes it next: one user content of camelCase functionResponse parts,
 * each as [name, id or undefined, the timezone its response names]; and each part has no other field.
 */
function answered(reply: Reply): Array<[string, string | undefined, unknown]> {
  assert.equal(reply.messages.length, 1, 'one user content holding every functionResponse')
  const [answer] = reply.messages
  assert.ok(answer !== undefined)
  assert.equal(answer.role, 'user')
  return answer.parts.map((part) => {
    assert.deepEqual(Object.keys(part), ['functionResponse'])
    const { name, id, response } = part.functionResponse
    return [name, id, response.timezone]
  })
}

// ---------------------------------------------------------------------------------------------
// What google-genai's Python SDK writes for a response of a text part and two calls (measured on
// its GenerateContentResponse): model_dump() names every field, null where unset; exclude_none
// and to_json_dict() leave those out; by_alias writes camelCase, with "id": null for a call
// without one. A thought signature is bytes, dumped as base64.
// ---------------------------------------------------------------------------------------------

const unsetPartFields = {
  media_resolution: null,
  code_execution_result: null,
  executable_code: null,
  file_data: null,
  function_response: null,
  inline_data: null,
  thought: null,
  video_metadata: null,
  tool_call: null,
  tool_response: null,
  part_metadata: null,
}

/** `model_dump(mode='json')`: snake_case, every field present. */
const modelDump = {
  sdk_http_response: null,
  candidates: [
    {
      content: {
        parts: [
          { ...unsetPartFields, function_call: null, text: 'Checking both.', thought_signature: null },
          {
            ...unsetPartFields,
            function_call: { id: null, args: { timezone: 'Europe/Paris' }, name: 'get_time', partial_args: null, will_continue: null },
            text: null,
            thought_signature: 'c2lnbmF0dXJl',
          },
          {
            ...unsetPartFields,
            function_call: {
              id: 'call-tokyo',
              args: { timezone: 'Asia/Tokyo' },
              name: 'get_date',
              partial_args: null,
              will_continue: null,
            },
            text: null,
            thought_signature: null,
          },
        ],
        role: 'model',
      },
      citation_metadata: null,
      finish_message: null,
      finish_reason: 'STOP',
      index: 0,
      safety_ratings: null,
    },
  ],
  create_time: null,
  model_version: 'gemini-3-flash',
  prompt_feedback: null,
  response_id: 'resp-dump',
  usage_metadata: { prompt_token_count: 40, total_token_count: 60 },
  automatic_function_calling_history: null,
  parsed: null,
}

/** `to_json_dict()`, or `model_dump(mode='json', exclude_none=True)`: snake_case, unset fields left out. */
const jsonDict = {
  candidates: [
    {
      content: {
        parts: [
          { text: 'Checking both.' },
          { function_call: { args: { timezone: 'Europe/Paris' }, name: 'get_time' }, thought_signature: 'c2lnbmF0dXJl' },
          { function_call: { id: 'call-tokyo', args: { timezone: 'Asia/Tokyo' }, name: 'get_date' } },
        ],
        role: 'model',
      },
      finish_reason: 'STOP',
      index: 0,
    },
  ],
  model_version: 'gemini-3-flash',
  response_id: 'resp-dump',
}

/** `model_dump(mode='json', by_alias=True)`: camelCase, every field present. */
const byAliasDump = {
  sdkHttpResponse: null,
  candidates: [
    {
      content: {
        parts: [
          { functionCall: null, functionResponse: null, text: 'Checking both.', thought: null, thoughtSignature: null },
          {
            functionCall: { id: null, args: { timezone: 'Europe/Paris' }, name: 'get_time', partialArgs: null, willContinue: null },
            functionResponse: null,
            text: null,
            thought: null,
            thoughtSignature: 'c2lnbmF0dXJl',
          },
          {
            functionCall: { id: 'call-tokyo', args: { timezone: 'Asia/Tokyo' }, name: 'get_date', partialArgs: null, willContinue: null },
            functionResponse: null,
            text: null,
            thought: null,
            thoughtSignature: null,
          },
        ],
        role: 'model',
      },
      citationMetadata: null,
      finishReason: 'STOP',
      index: 0,
    },
  ],
  modelVersion: 'gemini-3-flash',
  promptFeedback: null,
  automaticFunctionCallingHistory: null,
}

describe('Gemini responses as the Python SDK dumps them', () => {
  for (const [dump, body] of [
    ['model_dump()', modelDump],
    ['to_json_dict() and exclude_none', jsonDict],
    ['model_dump(by_alias=True)', byAliasDump],
  ] as const) {
    it(`runs the calls of ${dump} and answers in Gemini's camelCase, the id only where the model gave one`, async (t) => {
      const { status, reply } = await post(t, body)
      assert.equal(status, 200)
      assert.equal(reply.status, 'complete')
      assert.deepEqual(
        reply.results.map((result) => [result.id, result.name, result.ok]),
        [
          ['gemini_call_1', 'get_time', true],
          ['call-tokyo', 'get_date', true],
        ],
      )
      assert.deepEqual(answered(reply), [
        ['get_time', undefined, 'Europe/Paris'],
        ['get_date', 'call-tokyo', 'Asia/Tokyo'],
      ])
    })
  }

  it('reads "args": null (a call without arguments, dumped) as no arguments', async (t) => {
    const body = { candidates: [{ content: { parts: [{ function_call: { id: null, args: null, name: 'get_date' }, text: null }] } }] }
    const { reply } = await post(t, body)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(answered(reply), [['get_date', undefined, 'UTC']])
  })

  it('refuses a dumped call it cannot read, naming the field as the dump spells it', async (t) => {
    const body = {
      candidates: [{ content: { parts: [{ text: 'x', function_call: null }, { function_call: { name: 42, args: {} } }] } }],
    }
    const { status, reply } = await post(t, body)
    assert.equal(status, 400)
    assert.equal(reply.error?.code, 'invalid_payload')
    assert.equal(reply.error.path, 'body.candidates[0].content.parts[1].function_call.name')
  })

  it('names a snake_case field inside partial_args as the dump spells it', async (t) => {
    const functionCall = { name: 'get_time', partial_args: [{ json_path: '$.timezone', string_value: 7 }], will_continue: null }
    const { status, reply } = await post(t, { candidates: [{ content: { parts: [{ function_call: functionCall }] } }] })
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body.candidates[0].content.parts[0].function_call.partial_args[0].string_value')
  })
})

// ---------------------------------------------------------------------------------------------
// Streams: every chunk a GenerateContentResponse. The Gemini API sends each call whole in a
// chunk; Gemini 3 on Vertex with streamFunctionCallArguments begins a call with its name and
// willContinue: true, sends its arguments as partialArgs pieces (a value at a jsonPath, a string
// continued while its piece says willContinue) and ends it with a piece without willContinue.
// ---------------------------------------------------------------------------------------------

const chunk = (...parts: object[]) => ({ candidates: [{ content: { role: 'model', parts }, index: 0 }], modelVersion: 'gemini-3-pro' })
const piece = (jsonPath: string, value: object, willContinue?: boolean) => ({
  jsonPath,
  ...value,
  ...(willContinue ? { willContinue } : {}),
})
const pieces = (partialArgs: object[], willContinue = true) => ({ functionCall: { partialArgs, willContinue } })

/**
 * A text chunk, a whole call, a call streamed in pieces ended by `{}`, one ended by its last piece (an empty functionCall
 * after it ends nothing), the closing chunks (the last without candidates).
 */
function streamedChunks(): object[] {
  return [
    chunk({ text: 'Looking up ' }),
    chunk({ functionCall: { name: 'get_date', args: { timezone: 'Asia/Tokyo' }, id: 'whole-1' } }),
    chunk({ functionCall: { name: 'get_time', id: 'streamed-2', willContinue: true }, thoughtSignature: 'c2ln' }),
    chunk(pieces([piece('$.timezone', { stringValue: 'Amer' }, true)])),
    chunk({ functionCall: { willContinue: true } }),
    chunk(pieces([piece('$.timezone', { stringValue: 'ica/New_Y' }, true)])),
    chunk(pieces([piece('$.timezone', { stringValue: 'ork' })])),
    chunk({ functionCall: {} }),
    chunk({ functionCall: { name: 'get_time', willContinue: true } }),
    chunk(pieces([piece('$["timezone"]', { stringValue: 'Europe/Paris' }, true)])),
    chunk(pieces([piece('$["timezone"]', { stringValue: '' })], false)),
    chunk({ functionCall: {} }),
    {
      candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
    },
    { usageMetadata: { promptTokenCount: 20, totalTokenCount: 29 } },
  ]
}

const expectedStreamResults = [
  ['whole-1', 'get_date', true],
  ['streamed-2', 'get_time', true],
  ['gemini_call_8_0', 'get_time', true],
]
const expectedStreamAnswers = [
  ['get_date', 'whole-1', 'Asia/Tokyo'],
  ['get_time', 'streamed-2', 'America/New_York'],
  ['get_time', undefined, 'Europe/Paris'],
]

/** The streamed schema's decoding of `chunks`, without a server: the calls with their arguments as put together. */
function decodeStream(chunks: object[]) {
  const schema = gemini.payloads.streamed?.[0]?.schema
  assert.ok(schema !== undefined)
  return schema.safeParse(chunks)
}

const asServerSentEvents = (chunks: readonly object[]) => chunks.map((each) => `data: ${JSON.stringify(each)}\r\n\r\n`).join('')

describe('streamed Gemini responses (streamGenerateContent)', () => {
  it('runs the calls of every chunk in order, putting calls streamed in partialArgs back together', async (t) => {
    const { status, reply } = await post(t, streamedChunks())
    assert.equal(status, 200)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(
      reply.results.map((result) => [result.id, result.name, result.ok]),
      expectedStreamResults,
    )
    assert.deepEqual(answered(reply), expectedStreamAnswers)
  })

  it('takes the raw ?alt=sse text/event-stream body as well', async (t) => {
    const { status, reply } = await post(t, asServerSentEvents(streamedChunks()), 'text/event-stream')
    assert.equal(status, 200)
    assert.deepEqual(answered(reply), expectedStreamAnswers)
  })

  it('takes the chunks as the Python SDK dumps them (snake_case, unset fields null)', async (t) => {
    const dumped = (functionCall: object) => ({
      candidates: [
        { content: { parts: [{ function_call: functionCall, text: null, thought_signature: null }], role: 'model' }, index: null },
      ],
      usage_metadata: null,
    })
    const unset = { id: null, args: null, name: null, partial_args: null, will_continue: null }
    const partial = (stringValue: string, willContinue: boolean | null) => ({
      json_path: '$.timezone',
      string_value: stringValue,
      number_value: null,
      bool_value: null,
      null_value: null,
      will_continue: willContinue,
    })
    const body = [
      dumped({ ...unset, name: 'get_time', will_continue: true }),
      dumped({ ...unset, partial_args: [partial('Australia/', true)], will_continue: true }),
      dumped({ ...unset, partial_args: [partial('Sydney', null)], will_continue: true }),
      dumped(unset),
    ]
    const { reply } = await post(t, body)
    assert.equal(reply.status, 'complete')
    assert.deepEqual(answered(reply), [['get_time', undefined, 'Australia/Sydney']])
  })

  it('puts nested arguments back together: objects, arrays in order, numbers, booleans, nulls, quoted names', () => {
    const decoded = decodeStream([
      chunk({ functionCall: { name: 'plan', willContinue: true } }),
      chunk(pieces([piece('$.trip.stops[0].city', { stringValue: 'Ky' }, true), piece('$.trip.stops[0].city', { stringValue: 'oto' })])),
      chunk(pieces([piece('$.trip.stops[0].nights', { numberValue: 2 }), piece('$.trip.stops[1].city', { stringValue: 'Nara' })])),
      chunk(pieces([piece("$.trip['by train']", { boolValue: true }), piece('$.note', { nullValue: 'NULL_VALUE' })])),
      chunk(pieces([piece('$.tags[0]', { stringValue: 'a' }), piece('$.tags[1]', { stringValue: 'b\\' }, true)])),
      chunk(pieces([piece('$.tags[1]', { stringValue: 'c' })], false)),
    ])
    assert.ok(decoded.success, JSON.stringify(decoded.error?.issues))
    assert.deepEqual(decoded.data.calls, [
      {
        id: 'gemini_call_0_0',
        name: 'plan',
        arguments: {
          trip: { stops: [{ city: 'Kyoto', nights: 2 }, { city: 'Nara' }], 'by train': true },
          note: null,
          tags: ['a', 'b\\c'],
        },
        path: '[0].candidates[0].content.parts[0]',
        assignedId: true,
      },
    ])
  })

  it('sets, not appends, a string whose earlier piece did not say willContinue', () => {
    const decoded = decodeStream([
      chunk({ functionCall: { name: 'get_time', willContinue: true } }),
      chunk(pieces([piece('$.timezone', { stringValue: 'UTC' })])),
      chunk(pieces([piece('$.timezone', { stringValue: 'Asia/Tokyo' })], false)),
    ])
    assert.ok(decoded.success)
    assert.deepEqual(decoded.data.calls[0]?.arguments, { timezone: 'Asia/Tokyo' })
  })
})

describe('streamed Gemini calls that cannot be read are refused, naming the field', () => {
  const refusals: Array<[string, object[], string]> = [
    [
      'a stream that ends while a call still continues',
      [
        chunk({ functionCall: { name: 'get_time', willContinue: true } }),
        chunk(pieces([piece('$.timezone', { stringValue: 'Eu' }, true)])),
      ],
      'body[1].candidates[0].content.parts[0].functionCall.willContinue',
    ],
    [
      'a jsonPath of another form',
      [
        chunk({ functionCall: { name: 'get_time', willContinue: true } }),
        chunk(pieces([piece('timezone', { stringValue: 'UTC' })], false)),
      ],
      'body[1].candidates[0].content.parts[0].functionCall.partialArgs[0].jsonPath',
    ],
    [
      'a jsonPath reaching for the prototype',
      [
        chunk({ functionCall: { name: 'get_time', willContinue: true } }),
        chunk(pieces([piece('$.__proto__.x', { stringValue: '1' })], false)),
      ],
      'body[1].candidates[0].content.parts[0].functionCall.partialArgs[0].jsonPath',
    ],
    [
      'an array index that skips elements',
      [
        chunk({ functionCall: { name: 'get_time', willContinue: true } }),
        chunk(pieces([piece('$.zones[5]', { stringValue: 'UTC' })], false)),
      ],
      'body[1].candidates[0].content.parts[0].functionCall.partialArgs[0].jsonPath',
    ],
    [
      'a call that begins while another continues',
      [chunk({ functionCall: { name: 'get_time', willContinue: true } }), chunk({ functionCall: { name: 'get_date', args: {} } })],
      'body[1].candidates[0].content.parts[0].functionCall.name',
    ],
    [
      'args on a piece that continues a call',
      [chunk({ functionCall: { name: 'get_time', willContinue: true } }), chunk({ functionCall: { args: { timezone: 'UTC' } } })],
      'body[1].candidates[0].content.parts[0].functionCall.args',
    ],
    [
      'pieces without a name, and no call to continue',
      [chunk({ text: 'hi' }), chunk(pieces([piece('$.timezone', { stringValue: 'UTC' })], false))],
      'body[1].candidates[0].content.parts[0].functionCall.name',
    ],
    [
      'a piece of the wrong type',
      [
        chunk({ functionCall: { name: 'get_time', willContinue: true } }),
        chunk(pieces([{ jsonPath: '$.timezone', numberValue: 'one' }], false)),
      ],
      'body[1].candidates[0].content.parts[0].functionCall.partialArgs[0].numberValue',
    ],
  ]
  for (const [what, chunks, path] of refusals) {
    it(`${what}: 400 at ${path}`, async (t) => {
      const { status, reply } = await post(t, chunks)
      assert.equal(status, 400)
      assert.equal(reply.error?.code, 'invalid_payload')
      assert.equal(reply.error.path, path)
    })
  }

  it('reports a raw stream at body.events[...]', async (t) => {
    const chunks = [
      chunk({ functionCall: { name: 'get_time', willContinue: true } }),
      chunk(pieces([piece('$.a[1]', { stringValue: 'x' })])),
    ]
    const { status, reply } = await post(t, asServerSentEvents(chunks), 'text/event-stream')
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body.events[1].candidates[0].content.parts[0].functionCall.partialArgs[0].jsonPath')
  })

  it('refuses a single response that is only the beginning of a streamed call, rather than running it without arguments', async (t) => {
    const { status, reply } = await post(t, chunk({ functionCall: { name: 'get_time', willContinue: true } }))
    assert.equal(status, 400)
    assert.equal(reply.error?.path, 'body.candidates[0].content.parts[0].functionCall.willContinue')
  })
})

describe('jsonPathSegments', () => {
  it('reads member names, quoted names with escapes, and indexes', () => {
    assert.deepEqual(jsonPathSegments('$'), [])
    assert.deepEqual(jsonPathSegments('$.recipe.steps[10].text'), ['recipe', 'steps', 10, 'text'])
    assert.deepEqual(jsonPathSegments(`$['time zone']["say \\"hi\\""]['it\\'s']["\\u00e9\\n"]`), ['time zone', 'say "hi"', "it's", 'é\n'])
    assert.deepEqual(jsonPathSegments('$.café_1'), ['café_1'])
  })

  it('refuses other forms', () => {
    for (const path of ['timezone', '$timezone', '$.', '$.1a', '$[01]', '$[-1]', '$[*]', '$..a', "$['a]", '$.a[0', '$[?@.a]']) {
      assert.equal(jsonPathSegments(path), undefined, path)
    }
  })
})
