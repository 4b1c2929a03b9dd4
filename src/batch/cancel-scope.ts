type Listener = (reason: unknown) => void

/**
 * Where a scope comes from when it is made only if needed (a batch whose calls all answer at once
 * needs none): whether it would be cancelled already, and the scope itself, made on first use.
 */
export interface ScopeSource {
  readonly aborted: boolean
  readonly reason: unknown
  scope(): CancelScope
}

/**
 * Cancellation for the hot path: a tree of scopes (server, batch, call, attempt) that tell each
 * other with plain callbacks. EventTarget listeners and AbortSignal.any cost microseconds each;
 * a batch of instant calls would spend more on them than on the calls. An AbortSignal is made
 * only for a tool that asks for one.
 */
export class CancelScope {
  #aborted = false
  #reason: unknown
  /** Made on the first subscription: most scopes end without one. */
  #listeners: Set<Listener> | undefined
  #controller: AbortController | undefined
  #unlink: (() => void) | undefined

  /** A scope cancelled with its parent (a scope, or an AbortSignal such as a request's). */
  constructor(parent?: CancelScope | AbortSignal) {
    if (parent === undefined) return
    if (parent.aborted) {
      this.abort(parent.reason)
    } else if (parent instanceof CancelScope) {
      this.#unlink = parent.onAbort((reason) => {
        this.abort(reason)
      })
    } else {
      const onAbort = () => {
        this.abort(parent.reason)
      }
      parent.addEventListener('abort', onAbort, { once: true })
      this.#unlink = () => {
        parent.removeEventListener('abort', onAbort)
      }
    }
  }

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): unknown {
    return this.#reason
  }

  /** A standard AbortSignal following this scope, made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /**
   * Calls `listener` once when the scope is cancelled, or on the next microtask if it already is;
   * returns the unsubscribe.
   */
  onAbort(listener: Listener): () => void {
    if (this.#aborted) {
      let subscribed = true
      queueMicrotask(() => {
        if (subscribed) listener(this.#reason)
      })
      return () => {
        subscribed = false
      }
    }
    const listeners = (this.#listeners ??= new Set())
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
    const listeners = this.#listeners
    this.#listeners = undefined
    for (const listener of listeners ?? []) listener(reason)
  }

  /** Stops following the parent. */
  dispose(): void {
    this.#unlink?.()
    this.#unlink = undefined
  }
}
