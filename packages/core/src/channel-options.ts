import type { Broker } from './broker.js'
import type { Serializer, SseEvent } from './encode.js'
import { describe, rejectUnknownKeys, SseTypeError } from './errors.js'
import {
  type AnyEvents,
  checkSchemas,
  type EventMap,
  type EventOf,
  type EventSchemas,
} from './events.js'
import { checkLogName } from './log-name.js'
import type { AuthorizeResult } from './options.js'
import type { EventStore, Gap } from './store.js'
import type { EventStream } from './stream.js'

/** Options of {@link createChannel}; `M` is its event map. */
export interface ChannelOptions<M extends EventMap = AnyEvents> {
  /**
   * The channel's name: the log it reads and writes in `store` (channels with the same name
   * on the same store are one channel, in one process or many), or the topic its `broker`
   * carries. 1 to 256 characters, no control characters or braces.
   * @default 'default' with a store; required with a broker
   */
  name?: string
  /**
   * Keeps the channel's log: the store assigns ids, replays what follows a subscriber's
   * Last-Event-ID, and carries publishes to every process that follows the log.
   * @default undefined (no ids, no replay, this process only unless there is a broker)
   */
  store?: EventStore
  /**
   * Carries publishes between processes for a channel without a store: fire and forget, no
   * ids, no replay (for example `RedisBroker` from `@ssekit/redis`).
   * @default undefined
   */
  broker?: Broker
  /**
   * Event name given to published events that have none, so that a client subscribed to
   * several channels over one connection can tell them apart.
   * @default undefined (`message`)
   */
  event?: keyof M & string
  /**
   * Standard Schema validators (zod, valibot, arktype…) per event name, checked at
   * `publish`: an invalid payload throws a `TypeError` naming the event and the issue, and
   * is never stored or written. An event without a name is `message`.
   * @default undefined (no run-time check)
   */
  schema?: EventSchemas<M>
  /**
   * Turns non-string `data` into text, once per publish.
   * @default JSON.stringify
   */
  serializer?: Serializer
  /**
   * Turns stored (or brokered) text back into data for `filter`s.
   * @default JSON.parse
   */
  deserializer?: (text: string) => unknown
  /**
   * Most subscribers at once; a stream beyond it is turned away as its `overLimit` says
   * (by default 200 with a jittered `retry:` and an immediate close).
   * @default Infinity
   */
  maxSubscribers?: number
  /**
   * Decides whether `stream` may subscribe; `context` is what the caller passed to
   * `subscribe`. Subscribe before the handler's first `await` so that a refusal can still
   * answer 401/403 instead of opening the stream.
   * @default undefined (everyone may)
   */
  authorize?: (stream: EventStream, context: unknown) => AuthorizeResult | Promise<AuthorizeResult>
  /**
   * Called when a subscriber's Last-Event-ID cannot be resumed from `store`, or when the log
   * was lost under a live subscriber.
   * @default undefined (the gap is counted in `getMetrics().gaps`)
   */
  onGap?: (gap: Gap, stream: EventStream) => void | Promise<void>
  /**
   * Receives errors nobody awaits: a failing store or broker during delivery, a throwing
   * filter.
   * @default a process warning
   */
  onError?: (error: unknown) => void
}

/** What a filter sees of an event: the payload (deserialized), with its name and id. */
export type FilterView<M extends EventMap> = string extends keyof M ? SseEvent : EventOf<M>

/** Options of {@link Channel.subscribe}. */
export interface SubscribeOptions<M extends EventMap = AnyEvents> {
  /** Delivers only the events for which it returns true. Runs once per event per subscriber. */
  // A method signature: a typed channel is still a Channel, as helpers take it.
  filter?(event: FilterView<M>): boolean
  /** Passed to the channel's `authorize`. */
  context?: unknown
  /** Overrides the channel's `onGap` for this subscriber. */
  onGap?: (gap: Gap, stream: EventStream) => void | Promise<void>
  /**
   * Where a subscriber without a Last-Event-ID starts: `'now'` (live events only: a feed) or
   * `'start'` (the whole retained log, then live: one job's progress, one AI answer, read
   * again after a page reload). A subscriber with a Last-Event-ID resumes after it either way.
   * @default 'now' (an ended log is always given whole)
   */
  from?: 'now' | 'start'
}

/** Options of {@link Channel.lease}. */
export interface LeaseOptions {
  /**
   * How long the lease outlives its holder: when the holding process dies, the log ends
   * (with an `error` event) about this long after its last renewal.
   * @default 5000
   */
  ttlMs?: number
}

const CHANNEL_KEYS = [
  'name',
  'schema',
  'store',
  'broker',
  'event',
  'serializer',
  'deserializer',
  'maxSubscribers',
  'authorize',
  'onGap',
  'onError',
]

/** The keys of {@link SubscribeOptions}. */
const SUBSCRIBE_KEYS = ['filter', 'context', 'onGap', 'from']

function fail(name: string, accepts: string, value: unknown): SseTypeError {
  return new SseTypeError(
    'ERR_SSE_INVALID_OPTION',
    `@ssekit/core: channel option "${name}" must be ${accepts}; received ${describe(value)}.`,
  )
}

/** Validates channel options (a copy; the caller's object is never changed). */
export function checkChannelOptions(options: ChannelOptions): ChannelOptions {
  if (typeof options !== 'object' || options === null) throw fail('options', 'an object', options)
  rejectUnknownKeys(options, CHANNEL_KEYS, 'channel option')
  const o = { ...options }
  if (o.name !== undefined) checkLogName(o.name)
  if (o.broker !== undefined) {
    if (typeof o.broker?.publish !== 'function' || typeof o.broker?.subscribe !== 'function') {
      throw fail('broker', 'a Broker with publish() and subscribe()', o.broker)
    }
    if (o.name === undefined) {
      throw fail('name', 'set when there is a broker (it is the topic)', o.name)
    }
    if (o.store !== undefined) {
      throw fail(
        'broker',
        'left out when there is a store (the store carries publishes between processes itself)',
        o.broker,
      )
    }
  }
  const s = o.store
  if (
    s !== undefined &&
    (typeof s?.append !== 'function' ||
      typeof s?.read !== 'function' ||
      typeof s?.follow !== 'function' ||
      typeof s?.info !== 'function')
  ) {
    throw fail('store', 'an EventStore with append(), read(), info() and follow()', s)
  }
  if (o.event !== undefined) {
    if (typeof o.event !== 'string' || /[\r\n]/.test(o.event)) {
      throw fail('event', 'a string without CR or LF', o.event)
    }
  }
  if (o.schema !== undefined) {
    o.schema = checkSchemas(o.schema, (accepts, value) => fail('schema', accepts, value))
  }
  for (const key of ['serializer', 'deserializer', 'authorize', 'onGap', 'onError'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'function') throw fail(key, 'a function', o[key])
  }
  const max = o.maxSubscribers
  if (
    max !== undefined &&
    !(max === Number.POSITIVE_INFINITY || (Number.isSafeInteger(max) && max >= 0))
  ) {
    throw fail('maxSubscribers', 'a non-negative integer, or Infinity', max)
  }
  return o
}

/** Validates lease options and fills in the default. */
export function checkLeaseOptions(options: LeaseOptions | undefined): number {
  if (options !== undefined) rejectUnknownKeys(options, ['ttlMs'], 'lease option')
  const ttl = options?.ttlMs ?? 5000
  if (!(Number.isSafeInteger(ttl) && ttl >= 100 && ttl <= 3_600_000)) {
    throw fail('ttlMs', 'an integer of milliseconds from 100 to 3600000', ttl)
  }
  return ttl
}

/**
 * Validates subscribe options. `needsDeserializer`: the channel has a custom serializer and
 * no deserializer, so a filter could not see on replay the value it sees live.
 */
export function checkSubscribeOptions<M extends EventMap>(
  options: SubscribeOptions<M>,
  needsDeserializer: boolean,
): { filter: SubscribeOptions<M>['filter']; from: 'now' | 'start' } {
  if (typeof options !== 'object' || options === null) {
    throw new SseTypeError(
      'ERR_SSE_INVALID_OPTION',
      `@ssekit/core: subscribe options must be an object; received ${describe(options)}.`,
    )
  }
  rejectUnknownKeys(options, SUBSCRIBE_KEYS, 'subscribe option')
  const { filter, from = 'now' } = options
  if (filter !== undefined && typeof filter !== 'function') {
    throw subscribeError(`"filter" must be a function; received ${describe(filter)}`)
  }
  if (filter !== undefined && needsDeserializer) {
    // Stored (or brokered) events reach filters as text, turned back by the deserializer:
    // JSON.parse would not undo a custom serializer, and replay would filter wrong values.
    throw subscribeError(
      '"filter" on a channel with a custom "serializer" needs the matching "deserializer" channel option, so that a filter sees the same value on replay as live',
    )
  }
  if (from !== 'now' && from !== 'start') {
    throw subscribeError(`"from" must be 'now' or 'start'; received ${describe(from)}`)
  }
  return { filter, from }
}

function subscribeError(rule: string): SseTypeError {
  return new SseTypeError('ERR_SSE_INVALID_OPTION', `@ssekit/core: subscribe option ${rule}.`)
}
