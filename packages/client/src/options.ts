/** The options of `connect()`, their defaults, and their validation (once, at `connect`). */
import type { AnyEvents, EventMap } from '@ssekit/core'
import { optionError, SseClientTypeError } from './errors.js'
import type { EventFormats } from './types.js'

/** What a retry report tells `onRetry`. */
export interface RetryInfo {
  /** The reconnect about to be made: 1 for the first after a drop, then 2, 3… */
  readonly attempt: number
  /** How long the client waits before it, in ms. */
  readonly delay: number
  /**
   * Why the connection is being made again: a network failure, a status worth retrying, an
   * idle timeout. Absent when the server ended the stream normally.
   */
  readonly error: Error | undefined
}

/** The reconnect policy; `reconnect: false` turns reconnecting off. */
export interface ReconnectOptions {
  /**
   * The base delay in ms, used until the server sends `retry:` (which then replaces it).
   * @default 1000
   */
  delay?: number
  /**
   * The longest wait in ms: a server's `retry:`, a `Retry-After` and the backoff are all cut
   * to it. `Infinity` removes the cap.
   * @default 30000
   */
  maxDelay?: number
  /**
   * Reconnects in a row, without an event between them, before giving up
   * (`ERR_SSE_GAVE_UP`). `Infinity` never gives up.
   * @default Infinity
   */
  maxAttempts?: number
  /**
   * ms since the first failed attempt of a run (the last event before it reset the run)
   * after which no reconnect is started (`ERR_SSE_GAVE_UP`). `Infinity` never gives up.
   * @default Infinity
   */
  maxElapsed?: number
}

/** The body of the request. A stream body is not accepted: it could not be sent again. */
export type SseBody = string | URLSearchParams | FormData | Blob | BufferSource

interface BaseOptions {
  /**
   * The HTTP method of the first request (reconnects too, unless the answer gave a
   * `Content-Location`: see the README).
   * @default 'POST' with a `body` or `json`, else 'GET'
   */
  method?: string
  /** Request headers (`Authorization`, say). `Accept` defaults to `text/event-stream`. */
  headers?: HeadersInit
  /** The request body: string, `URLSearchParams`, `FormData`, `Blob`, `ArrayBuffer` or a view. */
  body?: SseBody
  /** A value sent as JSON (`Content-Type: application/json` unless you set one); not with `body`. */
  json?: unknown
  /**
   * Whether cookies go along (fetch's `credentials`). `'include'` for a cross-origin API
   * that authorizes by cookie (as `withCredentials: true` on an `EventSource`).
   * @default 'same-origin'
   */
  credentials?: RequestCredentials
  /**
   * The `fetch` to use (a wrapper that adds auth, a test double).
   * @default globalThis.fetch
   */
  fetch?: typeof fetch
  /** Closes the source when aborted, as `close()` does. */
  signal?: AbortSignal
  /**
   * A `Last-Event-ID` to send from the first request on: where a page that reloaded left off.
   * @default none
   */
  lastEventId?: string
  /** The reconnect policy, or `false` to stop at the first end or failure. */
  reconnect?: ReconnectOptions | false
  /**
   * ms without a byte from the server after which the connection is dropped and made again
   * (`ERR_SSE_IDLE_TIMEOUT` in `onRetry`). Set it above the server's heartbeat (ssekit's is
   * 15 s by default). `false` disables it.
   * @default false
   */
  idleTimeout?: number | false
  /**
   * The most characters (UTF-16 code units) of one event held while it arrives: its line so
   * far plus its data lines. A longer line or event fails the connection with
   * `ERR_SSE_EVENT_TOO_LARGE` (a server that sends it would send it again). `Infinity`
   * removes the limit.
   * @default 1048576
   */
  maxEventLength?: number
  /**
   * In a browser, one connection per URL and request for all the tabs of an origin: one tab
   * holds it (a Web Lock), the others get its events over a `BroadcastChannel`, and when that
   * tab closes another takes over from the last id it saw. Ignored where Web Locks or
   * `BroadcastChannel` are missing (Node). The body must be a string, `URLSearchParams` or `json`.
   * @default false
   */
  share?: boolean
  /** Called with each response that opens a stream. */
  onOpen?: (response: Response) => void
  /** Called before each reconnect, with why and how long the client waits. */
  onRetry?: (info: RetryInfo) => void
  /**
   * Errors thrown by your listeners and callbacks. Without it they are rethrown in a
   * microtask, as an `EventTarget` reports them, and the source goes on.
   */
  onError?: (error: unknown) => void
}

/**
 * The options of `connect<M>()`. With a typed map, `events` lists every event of the map with
 * how its data is read, so that the client parses what the types say.
 */
export type ConnectOptions<M extends EventMap = AnyEvents> = BaseOptions &
  ([EventFormats<M>] extends [never] ? { events?: never } : { events?: EventFormats<M> })

/** `ConnectOptions` with `events` required: for maps whose data is not all text. */
export type TypedConnectOptions<M extends EventMap> = BaseOptions & { events: EventFormats<M> }

export type Format = 'text' | 'json' | ((text: string) => unknown)

/** The options, checked, copied and defaulted. */
export interface Resolved {
  readonly url: string
  readonly method: string
  readonly headers: Headers
  readonly body: SseBody | undefined
  readonly credentials: RequestCredentials | undefined
  readonly fetch: typeof fetch | undefined
  readonly signal: AbortSignal | undefined
  readonly lastEventId: string
  /** Formats by event name, or one for all (open maps); undefined: all text. */
  readonly formats: ReadonlyMap<string, Format> | Format | undefined
  readonly reconnect: Required<ReconnectOptions> | false
  readonly idleTimeout: number | false
  readonly maxEventLength: number
  readonly share: boolean
  readonly onOpen: ((response: Response) => void) | undefined
  readonly onRetry: ((info: RetryInfo) => void) | undefined
  readonly onError: ((error: unknown) => void) | undefined
}

const KNOWN = [
  'method',
  'headers',
  'body',
  'json',
  'credentials',
  'fetch',
  'signal',
  'lastEventId',
  'events',
  'reconnect',
  'idleTimeout',
  'maxEventLength',
  'share',
  'onOpen',
  'onRetry',
  'onError',
]
const RECONNECT_KNOWN = ['delay', 'maxDelay', 'maxAttempts', 'maxElapsed']
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function nonNegative(name: string, value: unknown, fallback: number, infinite = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw optionError(name, `a number of ms, 0 or more${infinite ? ' (or Infinity)' : ''}`, value)
  }
  if (!infinite && !Number.isFinite(value)) {
    throw optionError(name, 'a finite number of ms, 0 or more', value)
  }
  return value
}

function rejectUnknown(value: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new SseClientTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/client: unknown ${where} "${key}"; the options are ${known.join(', ')}.`,
      )
    }
  }
}

function fn<T>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw optionError(name, 'a function', value)
  return value as T
}

function checkFormat(name: string, value: unknown): Format {
  if (value === 'text' || value === 'json' || typeof value === 'function') return value as Format
  throw optionError(name, "'text', 'json' or a function (text) => data", value)
}

function formatsOf(value: unknown): Resolved['formats'] {
  if (value === undefined) return undefined
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const map = new Map<string, Format>()
    for (const [name, format] of Object.entries(value)) {
      map.set(name, checkFormat(`events.${name}`, format))
    }
    return map
  }
  return checkFormat('events', value)
}

function reconnectOf(value: unknown): Resolved['reconnect'] {
  if (value === false) return false
  if (value === undefined) value = {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError('reconnect', 'false or { delay, maxDelay, maxAttempts, maxElapsed }', value)
  }
  rejectUnknown(value, RECONNECT_KNOWN, 'reconnect option')
  const o = value as ReconnectOptions
  const maxDelay = nonNegative('reconnect.maxDelay', o.maxDelay, 30_000, true)
  const maxAttempts = o.maxAttempts ?? Number.POSITIVE_INFINITY
  if (
    typeof maxAttempts !== 'number' ||
    !(Number.isInteger(maxAttempts) || maxAttempts === Number.POSITIVE_INFINITY) ||
    maxAttempts < 0
  ) {
    throw optionError('reconnect.maxAttempts', 'an integer, 0 or more (or Infinity)', maxAttempts)
  }
  return {
    delay: Math.min(nonNegative('reconnect.delay', o.delay, 1000), maxDelay),
    maxDelay,
    maxAttempts,
    maxElapsed: nonNegative('reconnect.maxElapsed', o.maxElapsed, Number.POSITIVE_INFINITY, true),
  }
}

function bodyOf(o: BaseOptions, share: boolean): SseBody | undefined {
  if (o.json !== undefined) {
    if (o.body !== undefined) {
      throw new SseClientTypeError(
        'ERR_SSE_INVALID_OPTION',
        '@ssekit/client: give "body" or "json", not both.',
      )
    }
    const text = JSON.stringify(o.json)
    if (text === undefined) throw optionError('json', 'a value JSON can write', o.json)
    return text
  }
  const body = o.body
  if (body === undefined) return undefined
  const ok =
    typeof body === 'string' ||
    (typeof URLSearchParams !== 'undefined' && body instanceof URLSearchParams) ||
    (typeof FormData !== 'undefined' && body instanceof FormData) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  if (!ok) {
    throw optionError(
      'body',
      'a string, URLSearchParams, FormData, Blob, ArrayBuffer or a typed array (a stream could not be sent again on reconnect)',
      body,
    )
  }
  if (share && typeof body !== 'string' && !(body instanceof URLSearchParams)) {
    throw optionError(
      'body',
      'a string, URLSearchParams or json with share: true (tabs compare requests by their text)',
      body,
    )
  }
  return body
}

/** Where relative URLs are resolved: the page in a browser. */
function base(): string | undefined {
  const location = (globalThis as { location?: { href?: unknown } }).location
  return typeof location?.href === 'string' ? location.href : undefined
}

function idleOf(value: unknown): number | false {
  if (value === false) return false
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw optionError('idleTimeout', 'a number of ms, more than 0 (or false)', value)
  }
  return value
}

export function resolveOptions(url: string | URL, options: unknown): Resolved {
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw optionError('options', 'an object', options)
  }
  rejectUnknown(options, KNOWN, 'option')
  const o = options as BaseOptions & { events?: unknown }
  let absolute: string
  try {
    absolute = new URL(url, base()).href
  } catch {
    throw optionError('url', 'an absolute URL (or one relative to the page, in a browser)', url)
  }
  if (o.share !== undefined && typeof o.share !== 'boolean') {
    throw optionError('share', 'true or false', o.share)
  }
  const share = o.share === true
  const body = bodyOf(o, share)
  const method = o.method ?? (body === undefined ? 'GET' : 'POST')
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw optionError('method', 'an HTTP method such as "GET" or "POST"', method)
  }
  const upper = method.toUpperCase()
  if (body !== undefined && (upper === 'GET' || upper === 'HEAD')) {
    throw optionError('method', `a method that carries a body (a ${upper} cannot)`, method)
  }
  let headers: Headers
  try {
    headers = new Headers(o.headers)
  } catch (error) {
    throw optionError('headers', `headers fetch accepts (${(error as Error).message})`, o.headers)
  }
  if (!headers.has('accept')) headers.set('accept', 'text/event-stream')
  if (o.json !== undefined && !headers.has('content-type')) {
    headers.set('content-type', 'application/json')
  }
  if (o.lastEventId !== undefined && typeof o.lastEventId !== 'string') {
    throw optionError('lastEventId', 'a string', o.lastEventId)
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw optionError('signal', 'an AbortSignal', o.signal)
  }
  const idle = o.idleTimeout ?? false
  const maxEventLength = o.maxEventLength ?? 1024 * 1024
  if (typeof maxEventLength !== 'number' || !(maxEventLength >= 1)) {
    throw optionError(
      'maxEventLength',
      'a number of characters, 1 or more (or Infinity)',
      maxEventLength,
    )
  }
  return {
    url: absolute,
    method: upper === 'GET' || upper === 'POST' ? upper : method,
    headers,
    body,
    credentials: o.credentials,
    fetch: fn('fetch', o.fetch),
    signal: o.signal,
    lastEventId: o.lastEventId ?? '',
    formats: formatsOf(o.events),
    reconnect: reconnectOf(o.reconnect),
    idleTimeout: idleOf(idle),
    maxEventLength,
    share,
    onOpen: fn('onOpen', o.onOpen),
    onRetry: fn('onRetry', o.onRetry),
    onError: fn('onError', o.onError),
  }
}
