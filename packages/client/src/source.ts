/**
 * The source a user holds: typed listeners and `for await`, data parsed by the declared
 * formats, `close()` and `closed`. It reads from a driver: its own connection, or one shared
 * by the tabs of the page's origin.
 */
import type { AnyEvents, EventMap } from '@ssekit/core'
import {
  CLOSED,
  Connection,
  type ConnectionSink,
  type Driver,
  failed,
  type ReadyState,
  type SseCloseInfo,
} from './connection.js'
import { SseClientError } from './errors.js'
import type { Format, Resolved, RetryInfo } from './options.js'
import type { RawEvent } from './reader.js'
import { type ShareDeps, SharedConnection, shareDeps } from './share.js'
import type { SseMessage, SseMessageOf } from './types.js'

/** Events an iterator may hold before the source stops reading the network for it. */
const HIGH_WATER = 64

interface IteratorState<T> {
  queue: T[]
  head: number
  waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined
}

function invalidData(event: string, cause: unknown): SseClientError {
  return new SseClientError(
    'ERR_SSE_INVALID_DATA',
    `@ssekit/client: the data of event "${event}" could not be parsed (${cause instanceof Error ? cause.message : String(cause)}); the source was closed. Check the events option: an event whose data the server sends as a string is 'text'.`,
    { cause },
  )
}

/**
 * A Server-Sent Events source, typed by the server's event map. Made by `connect()`.
 * Reading starts once you listen (`on`) or iterate (`for await`).
 */
export class SseSource<M extends EventMap = AnyEvents> implements AsyncIterable<SseMessage<M>> {
  /** Resolves (never rejects) once the source has stopped and released everything. */
  readonly closed: Promise<SseCloseInfo>
  readonly #o: Resolved
  readonly #driver: Driver
  readonly #listeners = new Map<string, Set<(message: never) => void>>()
  readonly #iterators = new Set<IteratorState<SseMessage<M>>>()
  #consumers = 0
  #info: SseCloseInfo | undefined
  #resume: (() => void) | undefined
  #paused: Promise<void> | undefined
  #offSignal: (() => void) | undefined
  /** Iterators that have thrown the failure once (they end after it). */
  readonly #thrown = new WeakSet<object>()

  /** @internal Use `connect()`. */
  constructor(o: Resolved, deps?: ShareDeps) {
    this.#o = o
    const sink: ConnectionSink = {
      event: (ev) => this.#dispatch(ev),
      id: () => {},
      open: (response) => this.#call(o.onOpen, response),
      ready: () => this.#ready(),
      retry: (attempt, delay, error) =>
        this.#call(o.onRetry, { attempt, delay, error } satisfies RetryInfo),
    }
    const share = o.share ? (deps ?? shareDeps()) : undefined
    this.#driver =
      share === undefined ? new Connection(o, sink) : new SharedConnection(o, sink, share)
    const signal = o.signal
    if (signal?.aborted) {
      this.#info = CLOSED
      this.closed = Promise.resolve(CLOSED)
      return
    }
    if (signal !== undefined) {
      const onAbort = () => this.close()
      signal.addEventListener('abort', onAbort, { once: true })
      this.#offSignal = () => signal.removeEventListener('abort', onAbort)
    }
    this.closed = this.#driver.run().then(
      (info) => this.#finish(info),
      (error: unknown) =>
        this.#finish(
          failed(
            error instanceof SseClientError
              ? error
              : new SseClientError(
                  'ERR_SSE_NETWORK',
                  `@ssekit/client: the source stopped on an unexpected error (${String(error)}).`,
                  { cause: error },
                ),
          ),
        ),
    )
  }

  /** Where the next request goes: the URL, or the `Content-Location` a non-GET answered. */
  get url(): string {
    return this.#driver.url
  }

  /** The last event ID received (sent as `Last-Event-ID` on reconnect); `''` before any. */
  get lastEventId(): string {
    return this.#driver.lastEventId
  }

  /** `'connecting'` (or waiting to reconnect), `'open'`, or `'closed'`. */
  get readyState(): ReadyState {
    return this.#info === undefined ? this.#driver.readyState : 'closed'
  }

  /**
   * Calls `listener` with each event named `event` (`'message'` for events without a name),
   * its data typed by the map. Returns a function that removes it.
   */
  on<K extends keyof M & string>(
    event: K,
    listener: (message: SseMessageOf<M, K>) => void,
  ): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`@ssekit/client: on("${event}", listener) takes a function.`)
    }
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    if (!set.has(listener)) {
      set.add(listener)
      this.#consumers++
      this.#wakeReader()
    }
    return () => this.off(event, listener)
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof M & string>(event: K, listener: (message: SseMessageOf<M, K>) => void): void {
    const set = this.#listeners.get(event)
    if (set?.delete(listener)) {
      this.#consumers--
      if (set.size === 0) this.#listeners.delete(event)
    }
  }

  /** Stops the source: aborts the request, clears every timer; `closed` resolves `closed`. */
  close(): void {
    if (this.#info !== undefined) return
    this.#info = CLOSED
    this.#driver.stop()
    this.#settle()
  }

  /**
   * Yields each event. Leaving the loop (`break`, `return`, a throw) closes the source; when
   * the source fails, the loop throws its `SseClientError`; when the server finishes (204),
   * it ends. While the loop body is busy the source stops reading the network after a few
   * dozen events, so memory stays bounded.
   */
  [Symbol.asyncIterator](): AsyncIterator<SseMessage<M>> {
    const state: IteratorState<SseMessage<M>> = { queue: [], head: 0, waiting: undefined }
    this.#iterators.add(state)
    this.#consumers++
    this.#wakeReader()
    const leave = () => {
      if (this.#iterators.delete(state)) this.#consumers--
    }
    return {
      next: () => {
        if (state.head < state.queue.length) {
          const value = state.queue[state.head++]!
          if (state.head === state.queue.length) {
            state.queue = []
            state.head = 0
          }
          this.#wakeReader()
          return Promise.resolve({ value, done: false })
        }
        const info = this.#info
        if (info !== undefined) {
          leave()
          if (info.reason === 'failed' && !this.#thrown.has(state)) {
            this.#thrown.add(state)
            return Promise.reject(info.error)
          }
          return Promise.resolve({ value: undefined, done: true })
        }
        return new Promise((resolve, reject) => {
          state.waiting = { resolve, reject }
        })
      },
      return: () => {
        leave()
        this.close()
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }

  #finish(info: SseCloseInfo): SseCloseInfo {
    if (this.#info === undefined) this.#info = info
    this.#settle()
    return this.#info
  }

  /** Wakes waiting iterators with the end and lets go of what the source held. */
  #settle(): void {
    this.#offSignal?.()
    this.#offSignal = undefined
    this.#resume?.()
    const info = this.#info!
    for (const state of this.#iterators) {
      const waiting = state.waiting
      if (waiting === undefined) continue
      state.waiting = undefined
      if (state.head < state.queue.length) continue
      this.#iterators.delete(state)
      this.#consumers--
      if (info.reason === 'failed') {
        this.#thrown.add(state)
        waiting.reject(info.error)
      } else {
        waiting.resolve({ value: undefined, done: true })
      }
    }
    this.#listeners.clear()
  }

  #ready(): Promise<void> | undefined {
    if (this.#info !== undefined) return undefined
    if (this.#consumers > 0 || this.#o.share) {
      let full = false
      for (const state of this.#iterators) {
        if (state.queue.length - state.head >= HIGH_WATER) full = true
      }
      if (!full) return undefined
    }
    this.#paused ??= new Promise<void>((resolve) => {
      this.#resume = resolve
    })
    return this.#paused
  }

  #wakeReader(): void {
    const resume = this.#resume
    if (resume === undefined) return
    for (const state of this.#iterators) {
      if (state.queue.length - state.head >= HIGH_WATER) return
    }
    this.#resume = undefined
    this.#paused = undefined
    resume()
  }

  #dispatch(raw: RawEvent): void {
    if (this.#info !== undefined) return
    const formats = this.#o.formats
    let format: Format | undefined
    if (typeof formats === 'object') {
      format = formats.get(raw.event)
      // Not in the map: not an event of this type, as an EventSource without its listener.
      if (format === undefined) return
    } else {
      format = formats
    }
    const listeners = this.#listeners.get(raw.event)
    if (listeners === undefined && this.#iterators.size === 0) return
    let data: unknown = raw.data
    if (format === 'json') {
      try {
        data = JSON.parse(raw.data)
      } catch (error) {
        throw invalidData(raw.event, error)
      }
    } else if (typeof format === 'function') {
      try {
        data = format(raw.data)
      } catch (error) {
        throw invalidData(raw.event, error)
      }
    }
    const message = { event: raw.event, data, id: raw.id } as SseMessage<M>
    for (const state of this.#iterators) {
      const waiting = state.waiting
      if (waiting !== undefined) {
        state.waiting = undefined
        waiting.resolve({ value: message, done: false })
      } else {
        state.queue.push(message)
      }
    }
    if (listeners !== undefined) {
      for (const listener of listeners) {
        this.#call(listener as (m: SseMessage<M>) => void, message)
        if (this.#info !== undefined) return
      }
    }
  }

  /** Runs a user callback; what it throws goes to `onError`, else is rethrown apart. */
  #call<T>(fn: ((arg: T) => void) | undefined, arg: T): void {
    if (fn === undefined) return
    try {
      fn(arg)
    } catch (error) {
      let thrown = error
      const onError = this.#o.onError
      if (onError !== undefined) {
        try {
          onError(error)
          return
        } catch (again) {
          thrown = again
        }
      }
      // As an EventTarget reports a listener's error: apart, and the source goes on.
      queueMicrotask(() => {
        throw thrown
      })
    }
  }
}
