/**
 * One source's requests over time: fetch, check the answer, read the stream, and reconnect
 * with backoff until something says stop. Everything it starts (a request, a body, a timer)
 * ends when it stops.
 */
import { backoffDelay, retryAfterMs } from './backoff.js'
import { SseClientError } from './errors.js'
import type { Resolved } from './options.js'
import { type RawEvent, StreamReader } from './reader.js'
import {
  cancelBody,
  headerValue,
  isEventStream,
  statusError,
  toClientError,
  withoutBodyHeaders,
} from './request.js'

/** Why a source closed. */
export type SseCloseInfo =
  /**
   * The server finished: it answered 204 (the way ssekit answers a reconnect to an ended
   * log), or the stream ended with `reconnect: false`.
   */
  | { readonly reason: 'done' }
  /** You closed it: `close()`, the `signal`, or leaving a `for await` loop. */
  | { readonly reason: 'closed' }
  /** It cannot go on: a status or content type that cannot succeed, a limit, giving up. */
  | { readonly reason: 'failed'; readonly error: SseClientError }

export type ReadyState = 'connecting' | 'open' | 'closed'

/** Where a connection's events and news go. */
export interface ConnectionSink {
  /** A dispatched event. May throw (data that cannot be parsed): that fails the source. */
  event(event: RawEvent): void
  /** The last event ID changed without an event (an id-only block). */
  id(id: string): void
  /** A stream opened; `url` is where the next request will go. */
  open(response: Response, url: string): void
  /** A promise to wait for before reading more (consumers are behind), or undefined. */
  ready(): Promise<void> | undefined
  /** Before a reconnect. */
  retry(attempt: number, delay: number, error: Error | undefined): void
}

/** What a source reads from: its own connection, or a tab that shares one. */
export interface Driver {
  readonly url: string
  readonly lastEventId: string
  readonly readyState: ReadyState
  run(): Promise<SseCloseInfo>
  stop(): void
}

export const DONE: SseCloseInfo = Object.freeze({ reason: 'done' })
export const CLOSED: SseCloseInfo = Object.freeze({ reason: 'closed' })
export const failed = (error: SseClientError): SseCloseInfo =>
  Object.freeze({ reason: 'failed', error })

/** The end of one attempt: close with this, or reconnect. */
type Outcome =
  | { readonly close: SseCloseInfo }
  | { readonly error: Error | undefined; readonly retryAfter?: number; readonly delivered: boolean }

export class Connection implements Driver {
  readonly #o: Resolved
  readonly #sink: ConnectionSink
  #url: string
  #method: string
  #body: Resolved['body']
  #headers: Headers
  /** The resume URL is on another origin: no credentials go there. */
  #crossOrigin = false
  #lastEventId: string
  /** The server's `retry:`, which replaces the `delay` option once sent. */
  #serverRetry: number | undefined
  #readyState: ReadyState = 'connecting'
  #stopped = false
  #controller: AbortController | undefined
  #reader: StreamReader | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #wake: (() => void) | undefined
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  #lastActivity = 0
  #idleFired = false
  /** Reading waits for the source's consumers (none yet, or an iterator behind). */
  #consumerWait = false
  #delivered = false

  constructor(o: Resolved, sink: ConnectionSink, from?: { url: string; lastEventId: string }) {
    this.#o = o
    this.#sink = sink
    this.#url = from?.url ?? o.url
    this.#method = from !== undefined && from.url !== o.url ? 'GET' : o.method
    this.#body = this.#method === 'GET' ? undefined : o.body
    this.#headers = o.headers
    if (this.#method === 'GET' && o.method !== 'GET') this.#headers = withoutBodyHeaders(o.headers)
    this.#lastEventId = from?.lastEventId ?? o.lastEventId
  }

  get url(): string {
    return this.#url
  }

  get lastEventId(): string {
    return this.#lastEventId
  }

  get readyState(): ReadyState {
    return this.#readyState
  }

  /** Aborts what runs now (a request, a read, a wait); `run()` then resolves `closed`. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#readyState = 'closed'
    this.#reader?.stop()
    this.#controller?.abort()
    this.#clearIdle()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#wake?.()
  }

  async run(): Promise<SseCloseInfo> {
    const reconnect = this.#o.reconnect
    let failures = 0
    let runStart = 0
    try {
      while (!this.#stopped) {
        const outcome = await this.#attempt()
        if (this.#stopped) break
        if ('close' in outcome) return outcome.close
        if (outcome.delivered) failures = 0
        if (reconnect === false)
          return outcome.error === undefined ? DONE : failed(toClientError(outcome.error))
        failures++
        const now = Date.now()
        if (failures === 1) runStart = now
        const base = this.#serverRetry ?? reconnect.delay
        let delay = backoffDelay(failures, base, reconnect.maxDelay)
        if (outcome.retryAfter !== undefined) {
          delay = Math.max(delay, Math.min(outcome.retryAfter, reconnect.maxDelay))
        }
        if (failures > reconnect.maxAttempts || now - runStart + delay > reconnect.maxElapsed) {
          return failed(this.#gaveUp(failures - 1, now - runStart, outcome.error))
        }
        this.#readyState = 'connecting'
        this.#sink.retry(failures, delay, outcome.error)
        await this.#sleep(delay)
      }
      return CLOSED
    } finally {
      this.#readyState = 'closed'
      this.#stopped = true
      this.#clearIdle()
    }
  }

  #gaveUp(attempts: number, elapsed: number, cause: Error | undefined): SseClientError {
    const r = this.#o.reconnect as Required<Exclude<Resolved['reconnect'], false>>
    const why =
      attempts >= r.maxAttempts
        ? `after ${attempts} reconnect${attempts === 1 ? '' : 's'} (reconnect.maxAttempts)`
        : `after ${Math.round(elapsed)} ms (reconnect.maxElapsed is ${r.maxElapsed})`
    return new SseClientError(
      'ERR_SSE_GAVE_UP',
      `@ssekit/client: gave up reconnecting to ${this.#url} ${why}${cause === undefined ? '' : `; last failure: ${cause.message}`}`,
      { cause, status: (cause as SseClientError | undefined)?.status },
    )
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#wake = undefined
        resolve()
      }, ms)
    })
  }

  #armIdle(): void {
    const idle = this.#o.idleTimeout
    if (idle === false) return
    this.#lastActivity = Date.now()
    const check = () => {
      // Waiting for our own consumers is not the server's silence.
      const left = this.#consumerWait ? idle : this.#lastActivity + idle - Date.now()
      if (left > 0) {
        this.#idleTimer = setTimeout(check, left)
        return
      }
      this.#idleTimer = undefined
      this.#idleFired = true
      this.#controller?.abort()
    }
    this.#idleTimer = setTimeout(check, idle)
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
  }

  async #attempt(): Promise<Outcome> {
    const controller = new AbortController()
    this.#controller = controller
    this.#idleFired = false
    this.#consumerWait = false
    this.#delivered = false
    this.#armIdle()
    try {
      return await this.#request(controller)
    } catch (error) {
      if (this.#stopped) return { close: CLOSED }
      if (error instanceof SseClientError && error.code !== 'ERR_SSE_NETWORK') {
        return { close: failed(error) }
      }
      return { error: this.#transient(error), delivered: this.#delivered }
    } finally {
      this.#clearIdle()
      this.#reader = undefined
      this.#controller = undefined
      // Whatever the end, the request and its body are released.
      controller.abort()
    }
  }

  #transient(error: unknown): Error {
    if (this.#idleFired) {
      return new SseClientError(
        'ERR_SSE_IDLE_TIMEOUT',
        `@ssekit/client: nothing came from ${this.#url} for ${this.#o.idleTimeout} ms (idleTimeout); reconnecting. Keep idleTimeout above the server's heartbeat.`,
      )
    }
    return toClientError(error)
  }

  async #request(controller: AbortController): Promise<Outcome> {
    const headers = new Headers(this.#headers)
    if (this.#lastEventId !== '') headers.set('last-event-id', headerValue(this.#lastEventId))
    const fetchFn = this.#o.fetch ?? globalThis.fetch
    const init: RequestInit = {
      method: this.#method,
      headers,
      signal: controller.signal,
      cache: 'no-store',
    }
    if (this.#body !== undefined) init.body = this.#body
    if (this.#crossOrigin) init.credentials = 'same-origin'
    else if (this.#o.credentials !== undefined) init.credentials = this.#o.credentials
    const response = await fetchFn(this.#url, init)
    if (this.#stopped) {
      cancelBody(response)
      return { close: CLOSED }
    }
    const status = response.status
    if (status === 204) {
      cancelBody(response)
      return { close: DONE }
    }
    if (status >= 200 && status < 300 && status !== 205) {
      if (!isEventStream(response.headers.get('content-type'))) {
        cancelBody(response)
        throw new SseClientError(
          'ERR_SSE_CONTENT_TYPE',
          `@ssekit/client: ${this.#url} answered ${status} with Content-Type ${JSON.stringify(response.headers.get('content-type') ?? '')}, not text/event-stream: it is not a Server-Sent Events endpoint.`,
          { status },
        )
      }
      return this.#read(response)
    }
    cancelBody(response)
    if (status === 408 || status === 429 || status >= 500) {
      return {
        error: statusError(response, this.#url, true),
        retryAfter: retryAfterMs(response.headers.get('retry-after'), Date.now()),
        delivered: false,
      }
    }
    throw statusError(response, this.#url, false)
  }

  async #read(response: Response): Promise<Outcome> {
    // A non-GET answered with Content-Location: a reconnect GETs it there, and never sends
    // the request again (it would start the work twice: an AI answer, a job).
    if (this.#method !== 'GET') {
      const location = response.headers.get('content-location')
      if (location !== null) {
        const from = new URL(response.url === '' ? this.#url : response.url)
        const to = new URL(location, from)
        this.#url = to.href
        this.#method = 'GET'
        this.#body = undefined
        // Another origin gets none of the caller's headers (Authorization, API keys) nor its
        // cookies, as fetch does on a cross-origin redirect.
        this.#headers =
          to.origin === from.origin ? withoutBodyHeaders(this.#headers) : new Headers()
        if (to.origin !== from.origin) this.#crossOrigin = true
      }
    }
    this.#readyState = 'open'
    this.#sink.open(response, this.#url)
    if (response.body === null) return { error: undefined, delivered: false }
    const body = response.body.getReader()
    const decoder = new TextDecoder()
    const reader = new StreamReader(
      this.#o.maxEventLength,
      {
        event: (ev) => {
          this.#lastEventId = ev.id
          this.#delivered = true
          this.#sink.event(ev)
        },
        id: (id) => {
          this.#lastEventId = id
          this.#sink.id(id)
        },
        retry: (ms) => {
          this.#serverRetry = ms
        },
      },
      this.#lastEventId,
    )
    this.#reader = reader
    try {
      while (true) {
        const wait = this.#sink.ready()
        if (wait !== undefined) {
          this.#consumerWait = true
          await wait
          this.#consumerWait = false
          this.#lastActivity = Date.now()
        }
        if (this.#stopped) return { close: CLOSED }
        const { done, value } = await body.read()
        if (done) {
          reader.push(decoder.decode())
          return { error: undefined, delivered: this.#delivered }
        }
        this.#lastActivity = Date.now()
        reader.push(decoder.decode(value, { stream: true }))
        if (this.#stopped) return { close: CLOSED }
      }
    } finally {
      body.cancel().catch(() => {})
    }
  }
}
