import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LinkedAbort } from '../src/linked-abort.ts'

describe('LinkedAbort', () => {
  it('aborts with its parent, with the same reason', () => {
    const parent = new AbortController()
    const child = new LinkedAbort(parent.signal)
    const reason = new Error('client went away')
    parent.abort(reason)
    assert.equal(child.signal.aborted, true)
    assert.equal(child.signal.reason, reason)
  })

  it('starts aborted under an aborted parent', () => {
    const child = new LinkedAbort(AbortSignal.abort('gone'))
    assert.equal(child.signal.reason, 'gone')
  })

  it('aborts on its own without touching its parent', () => {
    const parent = new AbortController()
    const child = new LinkedAbort(parent.signal)
    child.abort('deadline')
    assert.equal(child.signal.reason, 'deadline')
    assert.equal(parent.signal.aborted, false)
  })

  it('no longer follows its parent once disposed', () => {
    const parent = new AbortController()
    const child = new LinkedAbort(parent.signal)
    child.dispose()
    parent.abort()
    assert.equal(child.signal.aborted, false)
  })
})
