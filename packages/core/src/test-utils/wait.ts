/**
 * Waits until `predicate` returns a truthy value (or a promise of one) and resolves to it.
 * Polls on the macrotask queue, so I/O and timers make progress in between; rejects with
 * `message` once `timeoutMs` has passed. Use it to wait for the event you expect instead of
 * sleeping for a fixed time.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 5000,
  message = 'waitFor: condition not met',
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await predicate()
    if (value) return value as NonNullable<T>
    if (performance.now() > deadline) throw new Error(`${message} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Resolves when `emitter` emits `event` once, or rejects after `timeoutMs`. */
export function once<T = unknown>(
  emitter: {
    once(event: string, fn: (value: T) => void): unknown
    removeListener(event: string, fn: (value: T) => void): unknown
  },
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, done)
      reject(new Error(`once: no "${event}" within ${timeoutMs} ms`))
    }, timeoutMs)
    function done(value: T) {
      clearTimeout(timer)
      resolve(value)
    }
    emitter.once(event, done)
  })
}

/** A promise with its resolve function exposed, for gates a test opens itself. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(error: unknown): void
}

/** Makes a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Settles after the current I/O phase: lets pending callbacks and microtasks run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Collects cleanup functions (close a server, a socket, an EventSource) and runs them in
 * reverse order, each at most once: call `run()` from `afterEach`.
 */
export class Cleanup {
  #fns: (() => unknown)[] = []

  /** Registers `fn` and returns `value`, so that `const s = cleanup.add(x, () => x.close())`. */
  add<T>(value: T, fn: (value: T) => unknown): T {
    this.#fns.push(() => fn(value))
    return value
  }

  async run(): Promise<void> {
    const fns = this.#fns.reverse()
    this.#fns = []
    const errors: unknown[] = []
    for (const fn of fns) {
      try {
        await fn()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
  }
}
