/**
 * What every channel test file needs: apps and clients closed after each test, bounded
 * waits on promises, and a check that a promise settled without waiting for any I/O.
 */
import type { EventStream, StreamOptions } from '@ssekit/core'
import type { Adapter, Route, RunningApp } from '../adapters.js'

/** Things to close after a test, closed in reverse order. */
export class Cleanup {
  readonly #fns: (() => unknown)[] = []

  add(fn: () => unknown): void {
    this.#fns.push(fn)
  }

  async run(): Promise<void> {
    const errors: unknown[] = []
    for (const fn of this.#fns.splice(0).reverse()) {
      try {
        await fn()
      } catch (error) {
        errors.push(error)
      }
    }
    if (errors.length > 0) throw errors[0]
  }
}

/** A running app whose `close` may be called by the test and again by the cleanup. */
export interface App extends RunningApp {
  /** True once `close` was called. */
  readonly closing: boolean
}

/**
 * Starts `adapter` with `routes` and registers its shutdown with `cleanup`. The cleanup
 * closes it (bounded) unless the test already did.
 */
export async function startApp(
  cleanup: Cleanup,
  adapter: Adapter,
  routes: Route[],
  options?: StreamOptions,
): Promise<App> {
  const running = await adapter.start(routes, options)
  let closing: Promise<void> | undefined
  const app: App = {
    url: running.url,
    errors: running.errors,
    server: running.server,
    openStreams: () => running.openStreams(),
    get closing() {
      return closing !== undefined
    },
    close(closeOptions) {
      closing ??= running.close(closeOptions)
      return closing
    },
  }
  cleanup.add(() => withTimeout(app.close(), 10_000, `closing the ${adapter.name} app`))
  return app
}

/** A GET route whose handler is `handler`. */
export function get(path: string, handler: Route['handler'], options?: StreamOptions): Route {
  return options === undefined
    ? { method: 'GET', path, handler }
    : { method: 'GET', path, options, handler }
}

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * `'settled'` if `promise` settles before the event loop reaches its next check phase,
 * that is without waiting for any I/O (a socket drain, a client read); else `'io'`.
 */
export function settlesWithoutIo(promise: Promise<unknown>): Promise<'settled' | 'io'> {
  return Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'io'>((resolve) => setImmediate(() => resolve('io'))),
  ])
}

/**
 * What `stream` will tell when it closes (a channel's subscriptions, `onClose` functions),
 * live: entries leave the set as they are removed or told.
 */
export function trackCloseListeners(stream: EventStream): Set<unknown> {
  const live = new Set<unknown>()
  // Registered before the tracking starts, so it is not counted itself.
  stream.onClose(() => live.clear())
  const s = stream as unknown as { _watch(w: unknown): void; _unwatch(w: unknown): void }
  const watch = s._watch.bind(stream)
  const unwatch = s._unwatch.bind(stream)
  s._watch = (w) => {
    live.add(w)
    watch(w)
  }
  s._unwatch = (w) => {
    live.delete(w)
    unwatch(w)
  }
  return live
}

/** A request header, for a route's `authorize` (whose context each framework shapes its own way). */
export function headerOf(context: unknown, name: string): string | undefined {
  const c = context as {
    headers?: Record<string, string | string[] | undefined>
    req?: { header(name: string): string | undefined }
  }
  if (c.headers !== undefined) {
    const value = c.headers[name]
    return Array.isArray(value) ? value.join(', ') : value
  }
  return c.req?.header(name)
}
