import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CancelScope } from '../../src/batch/cancel-scope.ts'

describe('CancelScope', () => {
  it('is cancelled with its parent scope, with the same reason, and tells its listeners once', () => {
    const parent = new CancelScope()
    const child = new CancelScope(parent)
    const heard: unknown[] = []
    child.onAbort((reason) => heard.push(reason))
    parent.abort('deadline')
    parent.abort('again')
    assert.deepEqual([child.aborted, child.reason, heard], [true, 'deadline', ['deadline']])
  })

  it('follows an AbortSignal, such as a request whose client went away', () => {
    const request = new AbortController()
    const scope = new CancelScope(request.signal)
    const reason = new Error('client went away')
    request.abort(reason)
    assert.equal(scope.reason, reason)
  })

  it('starts cancelled under a cancelled parent', () => {
    assert.equal(new CancelScope(AbortSignal.abort('gone')).reason, 'gone')
    const parent = new CancelScope()
    parent.abort('stopped')
    assert.equal(new CancelScope(parent).reason, 'stopped')
  })

  it('calls a listener that subscribes after the fact, on the next microtask, unless it unsubscribed', async () => {
    const scope = new CancelScope()
    scope.abort('earlier')
    const heard: unknown[] = []
    scope.onAbort((reason) => heard.push(reason))
    scope.onAbort((reason) => heard.push(`unsubscribed ${String(reason)}`))()
    assert.deepEqual(heard, [])
    await Promise.resolve()
    assert.deepEqual(heard, ['earlier'])
  })

  it('cancels alone without touching its parent', () => {
    const parent = new CancelScope()
    const child = new CancelScope(parent)
    child.abort('attempt timed out')
    assert.equal(parent.aborted, false)
  })

  it('no longer follows its parent once disposed, and an unsubscribed listener is not called', () => {
    const request = new AbortController()
    const parent = new CancelScope(request.signal)
    const child = new CancelScope(parent)
    const heard: unknown[] = []
    const unsubscribe = parent.onAbort((reason) => heard.push(reason))
    child.dispose()
    unsubscribe()
    request.abort('gone')
    assert.deepEqual([parent.aborted, child.aborted, heard], [true, false, []])
  })

  it('gives an AbortSignal on demand that follows it, even when asked after the fact', () => {
    const early = new CancelScope()
    const signal = early.signal
    early.abort('now')
    assert.deepEqual([signal.aborted, signal.reason], [true, 'now'])
    const late = new CancelScope()
    late.abort('before')
    assert.deepEqual([late.signal.aborted, late.signal.reason], [true, 'before'])
  })
})
