import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { describe, it, type TestContext } from 'node:test'
import { startOpenMeteoStubFor } from '../helpers/open-meteo-stub.ts'
import { serveOnLoopback } from '../helpers/server-process.ts'
import { parseCommand, start } from './commands.ts'

const script = await readFile(new URL('../../examples/python/execute.py', import.meta.url), 'utf8')
// The usage line of the script's docstring: `python3 examples/python/execute.py [GATEWAY_URL]   # default ...`.
const usage = /^\s+(python3 examples\/python\/execute\.py \[GATEWAY_URL\])\s+# default (\S+)$/m.exec(script)

/** The usage line as written, its optional [GATEWAY_URL] given as `gateway`; what it printed and its exit code. */
async function runExample(t: TestContext, gateway: string): Promise<{ code: number | null; output: string }> {
  assert.ok(usage?.[1], 'the docstring gives the usage line')
  const example = start(t, parseCommand(usage[1].replace('[GATEWAY_URL]', gateway)))
  const [code] = await example.exit
  return { code, output: example.output() }
}

describe('examples/python/execute.py', () => {
  it('runs as its docstring says against `npm start`, and prints the tool messages in the calls order', async (t) => {
    assert.equal(usage?.[2], 'http://127.0.0.1:8080', 'the default is npm start on its defaults')
    const weather = await startOpenMeteoStubFor(t)
    // `npm start` on PORT=0 rather than 8080, with the weather stand-in; the example is then given its URL.
    const gateway = start(t, parseCommand('npm start'), {
      PORT: '0',
      OPEN_METEO_GEOCODING_URL: weather.url,
      OPEN_METEO_FORECAST_URL: weather.url,
    })
    const [, base = ''] = await gateway.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'the gateway to listen')
    t.after(async () => {
      gateway.child.kill('SIGTERM')
      await gateway.exit
    })
    const { code, output } = await runExample(t, base)
    assert.equal(code, 0, output)
    const lines = output.trimEnd().split('\n')
    assert.match(lines[0] ?? '', /^status: complete \(wall [\d.]+ ms, sum [\d.]+ ms\)$/)
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(': ')[0]),
      ['call_time', 'call_date', 'call_weather'],
    )
    const content = (line: string | undefined) => JSON.parse(line?.slice(line.indexOf(': ') + 2) ?? '') as Record<string, unknown>
    assert.equal(content(lines[1]).timezone, 'Asia/Tokyo')
    assert.deepEqual((content(lines[3]).location as { name: string }).name, 'Tokyo')
  })

  it('waits Retry-After and tries again on a 503, three attempts at most', async (t) => {
    let requests = 0
    const busy = await serveOnLoopback(
      t,
      createServer((request, response) => {
        requests++
        request.resume()
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' })
        response.end(JSON.stringify({ error: { code: 'queue_full', message: 'the queue is full' } }))
      }),
    )
    const { code, output } = await runExample(t, busy)
    assert.notEqual(code, 0)
    assert.equal(requests, 3)
    assert.match(output, /RuntimeError: toolgate refused the request: HTTP 503 queue_full: the queue is full/)
  })
})
