// The package ships no types: what toolgate uses of it.
declare module 'on-exit-leak-free' {
  /** Calls `fn(object, event)` on process exit if `object` is still alive; holds it only weakly. */
  export function register<T extends object>(object: T, fn: (object: T, event: 'exit') => void): void
  /** The same on 'beforeExit', while the event loop can still run. */
  export function registerBeforeExit<T extends object>(object: T, fn: (object: T, event: 'beforeExit') => void): void
}
