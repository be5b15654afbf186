import type { Serializer } from './encode.js'
import { describe, rejectUnknownKeys, SseTypeError } from './errors.js'
import {
  type AnyEvents,
  checkSchemas,
  type EventMap,
  type EventSchemas,
  type StandardSchemaV1,
} from './events.js'
import type { EventStore, Gap } from './store.js'
import type { EventStream } from './stream.js'

/** A reconnection delay, optionally spread at random to avoid reconnect storms. */
export type RetryOption = number | { ms: number; jitter?: number }

/** Header values as Node takes them; an array sends the header once per value. */
export type HeaderValues = Record<string, string | readonly string[]>

/**
 * What an `authorize` hook answers: `true` admits, `false` refuses with 403, or a status
 * (401 or 403) to refuse with.
 */
export type AuthorizeResult = boolean | 401 | 403

/** Options shared by every adapter, under the same names. */
export interface StreamOptions<Context = unknown, M extends EventMap = AnyEvents> {
  /**
   * Standard Schema validators (zod, valibot, arktype…) per event name, checked at `send`:
   * an invalid payload throws a `TypeError` naming the event and the issue, and nothing is
   * written. An event without a name is `message`.
   * @default undefined (no run-time check)
   */
  schema?: EventSchemas<M>
  /**
   * Milliseconds between heartbeat comments on an idle stream; any other write postpones
   * the next one. Keeps proxies and load balancers from closing quiet connections.
   * @default 15000
   * `false` disables it.
   */
  heartbeat?: number | false
  /**
   * Reconnection delay sent as `retry:` when the stream opens: milliseconds, or
   * `{ ms, jitter }` to add a random 0..jitter ms per client.
   * @default undefined (no `retry:` field; the browser uses its own default, about 3 s)
   */
  retry?: RetryOption
  /**
   * Event store for a stream that publishes to itself: every `send` is appended to it
   * (the store assigns the id) and a reconnecting client is replayed what follows its
   * Last-Event-ID. Streams that join a channel are replayed by the channel instead.
   * @default undefined (no replay)
   */
  store?: EventStore
  /**
   * A client more than this many bytes behind is cut off; it resumes through Last-Event-ID.
   * Bounds the memory one slow client can hold, not the size of an event. At least 65536:
   * below the transports' high-water marks (16 KiB on Node, 64 KiB on the Web transport) it
   * could not be told from a write still on its way.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number
  /**
   * Bytes of leading comment sent at open, to push the first event through buffering
   * proxies (some need 2 KiB).
   * @default 0 (none)
   */
  padding?: number
  /**
   * Turns non-string `data` into text.
   * @default JSON.stringify
   */
  serializer?: Serializer
  /**
   * Extra response headers (CORS, for example). They cannot change `Content-Type`;
   * `Connection` and `Transfer-Encoding` are dropped on HTTP/2. Per-route headers are added
   * to the app's (same name: the route's wins).
   * @default {}
   */
  headers?: HeaderValues
  /**
   * Query parameter read as the Last-Event-ID when the header is absent (EventSource
   * polyfills send it there).
   * @default false (only the header is read)
   */
  lastEventIdQuery?: string | false
  /**
   * Largest number of open streams in this process; a stream opened beyond it is turned
   * away as `overLimit` says.
   * @default Infinity (no limit)
   */
  maxStreams?: number
  /**
   * How a client beyond a limit is turned away. `'retry'` answers 200 with a jittered
   * `retry:` and closes at once: a browser EventSource gives up for good on any other
   * status, so this one comes back later, spread out. `'reject'` answers 503 with
   * `Retry-After`, for clients that understand it.
   * @default 'retry'
   */
  overLimit?: 'retry' | 'reject'
  /**
   * Reconnection delay given to clients turned away by a limit or closed at shutdown.
   * @default { ms: 2000, jitter: 8000 }
   */
  limitRetry?: RetryOption
  /**
   * Decides, before any stream opens, whether this request may have one. Refused
   * requests get 401 or 403 and no stream (a browser EventSource rightly gives up).
   * @default undefined (every request is admitted)
   */
  authorize?: (context: Context) => AuthorizeResult | Promise<AuthorizeResult>
  /**
   * Called when a Last-Event-ID cannot be resumed from `store` (see {@link Gap}); send a
   * snapshot from here. Gaps are also counted in `getMetrics().gaps`.
   * @default undefined
   */
  onGap?: (gap: Gap, stream: EventStream) => void | Promise<void>
  /**
   * Receives errors the stream cannot throw to a caller: a failing store, or an error
   * thrown by a handler the adapter runs. The stream is closed either way.
   * @default the framework's error handling where the adapter has one
   */
  onError?: (error: unknown, stream: EventStream) => void
}

/** Options after validation, with defaults filled in. Frozen; shared by many streams. */
export interface ResolvedOptions<Context = unknown> {
  readonly schema: Readonly<Record<string, StandardSchemaV1>> | undefined
  readonly heartbeat: number | false
  readonly retry: RetryOption | undefined
  readonly store: EventStore | undefined
  readonly maxBufferedBytes: number
  readonly padding: number
  readonly serializer: Serializer
  readonly headers: HeaderValues
  readonly lastEventIdQuery: string | false
  readonly maxStreams: number
  readonly overLimit: 'retry' | 'reject'
  readonly limitRetry: RetryOption
  readonly authorize: StreamOptions<Context>['authorize']
  readonly onGap: StreamOptions<Context>['onGap']
  readonly onError: StreamOptions<Context>['onError']
}

const DEFAULTS: ResolvedOptions = Object.freeze({
  schema: undefined,
  heartbeat: 15_000,
  retry: undefined,
  store: undefined,
  maxBufferedBytes: 1024 * 1024,
  padding: 0,
  serializer: JSON.stringify,
  headers: Object.freeze({}),
  lastEventIdQuery: false,
  maxStreams: Number.POSITIVE_INFINITY,
  overLimit: 'retry',
  limitRetry: Object.freeze({ ms: 2000, jitter: 8000 }),
  authorize: undefined,
  onGap: undefined,
  onError: undefined,
})

const KNOWN = new Set(Object.keys(DEFAULTS))
/** The smallest `maxBufferedBytes`: the Web transport's high-water mark. */
const MIN_BUFFERED = 64 * 1024
const MAX_TIMER_MS = 2 ** 31 - 1

function optionError(name: string, accepts: string, value: unknown): SseTypeError {
  return new SseTypeError(
    'ERR_SSE_INVALID_OPTION',
    `@ssekit/core: option "${name}" must be ${accepts}; received ${describe(value)}.`,
  )
}

function isInt(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
}

/** Validates a retry option; `name` is used in the error message. */
export function checkRetry(name: string, value: unknown): RetryOption {
  const accepts = 'a non-negative integer of milliseconds or { ms, jitter? } of such integers'
  if (typeof value === 'number') {
    if (!isInt(value, 0, MAX_TIMER_MS)) throw optionError(name, accepts, value)
    return value
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    rejectUnknownKeys(value, ['ms', 'jitter'], `option ${name}`)
    const { ms, jitter } = value as { ms?: unknown; jitter?: unknown }
    if (!isInt(ms, 0, MAX_TIMER_MS)) throw optionError(`${name}.ms`, accepts, ms)
    if (jitter !== undefined && !isInt(jitter, 0, MAX_TIMER_MS)) {
      throw optionError(`${name}.jitter`, accepts, jitter)
    }
    return Object.freeze({ ms, jitter: jitter ?? 0 })
  }
  throw optionError(name, accepts, value)
}

/** Picks a delay from a retry option: `ms` plus a uniform random 0..jitter. */
export function pickRetry(retry: RetryOption): number {
  if (typeof retry === 'number') return retry
  const jitter = retry.jitter ?? 0
  return jitter === 0 ? retry.ms : retry.ms + Math.floor(Math.random() * (jitter + 1))
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const BAD_VALUE = /[\r\n\0]/

function checkHeaders(value: unknown): HeaderValues {
  const accepts = 'an object of header names to string or string[] values without CR, LF or NUL'
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError('headers', accepts, value)
  }
  const out: Record<string, string | readonly string[]> = {}
  for (const [name, v] of Object.entries(value)) {
    if (!TOKEN.test(name)) throw optionError(`headers[${JSON.stringify(name)}]`, accepts, name)
    const values = Array.isArray(v) ? v : [v]
    for (const one of values) {
      if (typeof one !== 'string' || BAD_VALUE.test(one)) {
        throw optionError(`headers[${JSON.stringify(name)}]`, accepts, one)
      }
    }
    out[name] = Array.isArray(v) ? Object.freeze([...v]) : v
  }
  return Object.freeze(out)
}

function checkStore(value: unknown): EventStore {
  const s = value as EventStore | null
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.append !== 'function' ||
    typeof s.read !== 'function' ||
    typeof s.info !== 'function'
  ) {
    throw optionError('store', 'an EventStore with append(), read() and info()', value)
  }
  return s
}

function checkFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') throw optionError(name, 'a function', value)
  return value as F
}

/**
 * Validates options and fills in defaults. Call once, at registration: an invalid option
 * throws a `TypeError` naming it and what it accepts. `base` is an already-resolved set
 * the new options override (per-route options over middleware options).
 */
export function resolveOptions<Context = unknown>(
  options: StreamOptions<Context> | undefined,
  base?: ResolvedOptions<Context>,
): ResolvedOptions<Context> {
  const from = (base ?? DEFAULTS) as ResolvedOptions<Context>
  if (options === undefined) return from
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw optionError('options', 'an object', options)
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: unknown option "${key}"; the options are ${[...KNOWN].join(', ')}.`,
      )
    }
  }
  const o = options as Record<keyof StreamOptions, unknown>
  const out: { -readonly [K in keyof ResolvedOptions<Context>]: ResolvedOptions<Context>[K] } = {
    ...from,
  }
  if (o.heartbeat !== undefined) {
    if (o.heartbeat !== false && !isInt(o.heartbeat, 1, MAX_TIMER_MS)) {
      throw optionError(
        'heartbeat',
        'a positive integer of milliseconds, or false to disable',
        o.heartbeat,
      )
    }
    out.heartbeat = o.heartbeat
  }
  if (o.retry !== undefined) out.retry = checkRetry('retry', o.retry)
  if (o.schema !== undefined) {
    out.schema = checkSchemas(o.schema, (accepts, value) => optionError('schema', accepts, value))
  }
  if (o.store !== undefined) out.store = checkStore(o.store)
  if (o.maxBufferedBytes !== undefined) {
    if (!isInt(o.maxBufferedBytes, MIN_BUFFERED, Number.MAX_SAFE_INTEGER)) {
      throw optionError(
        'maxBufferedBytes',
        `an integer number of bytes of at least ${MIN_BUFFERED} (64 KiB, the largest transport high-water mark)`,
        o.maxBufferedBytes,
      )
    }
    out.maxBufferedBytes = o.maxBufferedBytes
  }
  if (o.padding !== undefined) {
    if (!(o.padding === 0 || isInt(o.padding, 3, 65_536))) {
      throw optionError(
        'padding',
        'an integer number of bytes from 3 to 65536, or 0 for none',
        o.padding,
      )
    }
    out.padding = o.padding
  }
  if (o.serializer !== undefined) out.serializer = checkFunction('serializer', o.serializer)
  if (o.headers !== undefined) {
    // Per-route headers add to the app's (a route's CORS header keeps the app's others).
    const own = checkHeaders(o.headers)
    out.headers = base === undefined ? own : Object.freeze({ ...from.headers, ...own })
  }
  if (o.lastEventIdQuery !== undefined) {
    const q = o.lastEventIdQuery
    if (q !== false && !(typeof q === 'string' && q.length > 0)) {
      throw optionError('lastEventIdQuery', 'a non-empty query parameter name, or false', q)
    }
    out.lastEventIdQuery = q
  }
  if (o.maxStreams !== undefined) {
    if (
      !(
        o.maxStreams === Number.POSITIVE_INFINITY || isInt(o.maxStreams, 0, Number.MAX_SAFE_INTEGER)
      )
    ) {
      throw optionError(
        'maxStreams',
        'a non-negative integer, or Infinity for no limit',
        o.maxStreams,
      )
    }
    out.maxStreams = o.maxStreams
  }
  if (o.overLimit !== undefined) {
    if (o.overLimit !== 'retry' && o.overLimit !== 'reject') {
      throw optionError('overLimit', "'retry' or 'reject'", o.overLimit)
    }
    out.overLimit = o.overLimit
  }
  if (o.limitRetry !== undefined) out.limitRetry = checkRetry('limitRetry', o.limitRetry)
  if (o.authorize !== undefined) out.authorize = checkFunction('authorize', o.authorize)
  if (o.onGap !== undefined) out.onGap = checkFunction('onGap', o.onGap)
  if (o.onError !== undefined) out.onError = checkFunction('onError', o.onError)
  return Object.freeze(out)
}
