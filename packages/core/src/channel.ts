import type { Broker, BrokerMessage, BrokerUnsubscribe } from './broker.js'
import {
  checkFields,
  encodeText,
  isSseEvent,
  type Serializer,
  type SseEvent,
  serializeData,
  toBytes,
} from './encode.js'
import { describe, reportUnhandled, SseError, SseTypeError } from './errors.js'
import { counters } from './metrics.js'
import { type AuthorizeResult, checkRetry, type RetryOption } from './options.js'
import type { EventStore, Gap, StoredEvent } from './store.js'
import type { EventStream } from './stream.js'

/** Options of {@link createChannel}. */
export interface ChannelOptions {
  /**
   * The channel's name: the topic its broker carries it under. Required with `broker`.
   * @default undefined
   */
  name?: string
  /**
   * Keeps published events (the store assigns their ids) and replays what follows a
   * subscriber's Last-Event-ID when it subscribes.
   * @default undefined (no ids, no replay)
   */
  store?: EventStore
  /**
   * Carries publishes between processes (for example `RedisBroker` from `@ssekit/redis`).
   * @default undefined (this process only)
   */
  broker?: Broker
  /**
   * Event name given to published events that have none, so that a client subscribed to
   * several channels over one connection can tell them apart.
   * @default undefined (`message`)
   */
  event?: string
  /**
   * Turns non-string `data` into text, once per publish.
   * @default JSON.stringify
   */
  serializer?: Serializer
  /**
   * Turns text back into data for `filter`s, for events that arrived through a broker.
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
   * Called when a subscriber's Last-Event-ID cannot be resumed from `store`.
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

/** Options of {@link Channel.subscribe}. */
export interface SubscribeOptions<T = unknown> {
  /** Delivers only the events for which it returns true. Runs once per event per subscriber. */
  filter?: (event: SseEvent<T>) => boolean
  /** Passed to the channel's `authorize`. */
  context?: unknown
  /** Overrides the channel's `onGap` for this subscriber. */
  onGap?: (gap: Gap, stream: EventStream) => void | Promise<void>
}

interface Subscription {
  readonly stream: EventStream
  readonly filter: ((event: SseEvent) => boolean) | undefined
  /** Set while the replay runs: live events wait here. */
  queue: { id: string | undefined; bytes: Uint8Array }[] | undefined
  /**
   * Ids the replay wrote. A broker may still bring one of them back after the replay; it
   * is skipped, until the first live event the replay did not have.
   */
  seen: Set<string> | undefined
  off: () => void
}

const NOOP = (): void => {}

/**
 * A broadcast channel: every event published is serialized and encoded once, and the same
 * bytes are written to every subscriber. A slow subscriber never holds the others back:
 * writes do not wait for it, and `maxBufferedBytes` cuts it off (it resumes by replay).
 */
export class Channel<T = unknown> {
  readonly name: string | undefined
  readonly #store: EventStore | undefined
  readonly #broker: Broker | undefined
  readonly #event: string | undefined
  readonly #serializer: Serializer
  readonly #deserializer: (text: string) => unknown
  readonly #maxSubscribers: number
  readonly #authorize: ChannelOptions['authorize']
  readonly #onGap: ChannelOptions['onGap']
  readonly #onError: (error: unknown) => void
  readonly #subs = new Map<EventStream, Subscription>()
  #closed = false
  #tail: Promise<unknown> = Promise.resolve()
  #brokerOff: Promise<BrokerUnsubscribe> | undefined

  /** @internal Use {@link createChannel}. */
  constructor(options: ChannelOptions = {}) {
    const o = checkChannelOptions(options)
    this.name = o.name
    this.#store = o.store
    this.#broker = o.broker
    this.#event = o.event
    this.#serializer = o.serializer ?? JSON.stringify
    this.#deserializer = o.deserializer ?? JSON.parse
    this.#maxSubscribers = o.maxSubscribers ?? Number.POSITIVE_INFINITY
    this.#authorize = o.authorize
    this.#onGap = o.onGap
    this.#onError = o.onError ?? reportUnhandled
    if (this.#broker !== undefined) {
      this.#brokerOff = Promise.resolve(
        this.#broker.subscribe(this.name!, (message) => this.#deliver(message, undefined)),
      )
      // Surface a failed broker subscription once, where errors go; publish awaits it too.
      this.#brokerOff.catch((error) => this.#onError(error))
    }
  }

  /** Subscribers right now. */
  get size(): number {
    return this.#subs.size
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Adds `stream` to the channel: replays from the channel's store what follows the
   * stream's Last-Event-ID (exactly once each, in order, even while others publish), then
   * delivers live events. Resolves to a function that removes the subscription; a stream
   * that closes leaves by itself. A stream refused by `authorize` or `maxSubscribers` is
   * answered and closed, and the promise resolves to a no-op.
   */
  async subscribe(stream: EventStream, options: SubscribeOptions<T> = {}): Promise<() => void> {
    if (this.#closed) throw closedError()
    if (stream.closed) return NOOP
    const existing = this.#subs.get(stream)
    if (existing !== undefined) return existing.off
    if (this.#store !== undefined && stream._ownsReplay) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        '@ssekit/core: this stream replays from its own `store` option, so a channel with a store cannot also replay it; drop one of the two stores (replay has one owner).',
      )
    }
    const filter = options.filter
    if (filter !== undefined && typeof filter !== 'function') {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: subscribe option "filter" must be a function; received ${describe(filter)}.`,
      )
    }
    if (this.#subs.size >= this.#maxSubscribers) {
      stream._refuse('limit')
      return NOOP
    }
    if (this.#authorize !== undefined) {
      stream._hold()
      let verdict: unknown
      try {
        verdict = await this.#authorize(stream, options.context)
      } catch (error) {
        stream._refuse('error')
        throw error
      }
      if (verdict !== true) {
        stream._refuse(verdict === 401 ? 'unauthorized' : 'forbidden')
        return NOOP
      }
      if (stream.closed) return NOOP
      if (this.#closed) {
        // Closed while authorize ran: end the stream as close() ended the others, rather
        // than leave it held (the response would never start).
        stream.close()
        return NOOP
      }
      // Others may have joined while authorize ran: check the limit again.
      if (this.#subs.size >= this.#maxSubscribers) {
        stream._refuse('limit')
        return NOOP
      }
    }
    const resumes = stream.lastEventId !== undefined || stream._invalidLastEventId !== undefined
    const sub: Subscription = {
      stream,
      filter: filter as Subscription['filter'],
      queue: this.#store !== undefined && resumes ? [] : undefined,
      seen: undefined,
      off: NOOP,
    }
    const offClose = stream.onClose(() => this.#subs.delete(stream))
    sub.off = () => {
      offClose()
      if (this.#subs.get(stream) === sub) this.#subs.delete(stream)
    }
    this.#subs.set(stream, sub)
    if (this.#authorize !== undefined) stream._release()
    if (sub.queue !== undefined) await this.#replay(sub, options.onGap ?? this.#onGap)
    return sub.off
  }

  /**
   * Publishes one event (a bare payload or an `SseEvent`) to every subscriber, in every
   * process when there is a broker. Resolves to the id the store assigned (or the event's
   * own `id` without a store).
   *
   * @throws TypeError at once for a field that cannot be written.
   */
  publish(input: T | SseEvent<T>): Promise<string | undefined> {
    if (this.#closed) return Promise.reject(closedError())
    const ev = (isSseEvent(input) ? input : { data: input }) as SseEvent<T>
    const data = serializeData(ev.data, this.#serializer)
    const event = ev.event ?? this.#event
    const ownId = checkFields(event, ev.id, ev.retry)
    counters.eventsPublished++
    const serialized = typeof ev.data !== 'string'
    const store = this.#store
    const id =
      store === undefined ? ownId : store.append({ data, event, retry: ev.retry, serialized })
    const send = (id: string | undefined): string | undefined => {
      const message: BrokerMessage = { id, data, event, retry: ev.retry, serialized }
      if (this.#broker === undefined) this.#deliver(message, { ...ev, event, id })
      return id
    }
    if (typeof id !== 'object' && this.#broker === undefined) {
      // A synchronous store (or none) and no broker: deliver now, in publish order.
      return Promise.resolve(send(id))
    }
    // An async store or a broker: keep publishes in order however their steps settle.
    const result = this.#tail.then(async () => {
      const assigned = await id
      send(assigned)
      if (this.#broker !== undefined) {
        await this.#brokerOff
        await this.#broker.publish(this.name!, {
          id: assigned,
          data,
          event,
          retry: ev.retry,
          serialized,
        })
      }
      return assigned
    })
    this.#tail = result.catch(NOOP)
    return result
  }

  /**
   * Ends the channel and its subscribers' streams (with a `retry:` hint picked within
   * `retry`, if given). Further publishes and subscribes reject.
   */
  close(options: { retry?: RetryOption } = {}): void {
    if (this.#closed) return
    const retry = options.retry === undefined ? undefined : checkRetry('retry', options.retry)
    this.#closed = true
    for (const sub of [...this.#subs.values()]) {
      sub.off()
      if (retry === undefined) sub.stream.close()
      else sub.stream._shutdown(retry)
    }
    this.#subs.clear()
    this.#brokerOff?.then((off) => off()).catch(this.#onError)
  }

  #deliver(message: BrokerMessage, original: SseEvent | undefined): void {
    if (this.#closed) return
    const bytes = toBytes(encodeText(message.data, message.event, message.id, message.retry))
    const now = Date.now()
    let view = original
    for (const sub of this.#subs.values()) {
      if (sub.filter !== undefined) {
        view ??= this.#view(message)
        let pass: boolean
        try {
          pass = sub.filter(view)
        } catch (error) {
          this.#onError(error)
          continue
        }
        if (!pass) continue
      }
      if (sub.queue !== undefined) sub.queue.push({ id: message.id, bytes })
      else {
        if (sub.seen !== undefined) {
          if (message.id !== undefined && sub.seen.has(message.id)) continue
          sub.seen = undefined
        }
        counters.eventsSent++
        sub.stream._write(bytes, now)
      }
    }
  }

  /** The event a filter sees for a message that came through the broker. */
  #view(message: BrokerMessage): SseEvent {
    let data: unknown = message.data
    if (message.serialized) {
      try {
        data = this.#deserializer(message.data)
      } catch {
        // Keep the text: a filter still gets something to look at.
      }
    }
    const view: SseEvent = { data }
    if (message.event !== undefined) view.event = message.event
    if (message.id !== undefined) view.id = message.id
    if (message.retry !== undefined) view.retry = message.retry
    return view
  }

  async #replay(sub: Subscription, onGap: ChannelOptions['onGap']): Promise<void> {
    const stream = sub.stream
    const seen = new Set<string>()
    let gap: Gap | undefined
    if (stream.lastEventId === undefined) {
      gap = { reason: 'invalid', lastEventId: stream._invalidLastEventId ?? '' }
    } else {
      try {
        const result = await this.#store!.readAfter(stream.lastEventId)
        if (result.gap !== undefined) gap = result.gap
        else {
          counters.replays++
          for (const ev of result.events) {
            if (sub.filter !== undefined && !this.#passes(sub, ev)) {
              seen.add(ev.id)
              continue
            }
            seen.add(ev.id)
            counters.eventsReplayed++
            const bytes = toBytes(encodeText(ev.data, ev.event, ev.id, ev.retry))
            if (!stream._write(bytes) && !(await stream._whenWritable())) return
          }
        }
      } catch (error) {
        sub.off()
        stream.close()
        throw error
      }
    }
    // Publishes already under way (an async store's append) reach the queue first, so that
    // one the replay also read is skipped below instead of written twice.
    await this.#tail
    // Events published meanwhile waited in the queue; more may join while this loop waits.
    const queue = sub.queue ?? []
    for (let i = 0; i < queue.length; i++) {
      const q = queue[i]!
      // Appended after the replay began but already in it: skip, so it arrives once.
      if (q.id !== undefined && seen.has(q.id)) continue
      counters.eventsSent++
      if (!stream._write(q.bytes) && !(await stream._whenWritable())) return
    }
    sub.queue = undefined
    if (seen.size > 0) sub.seen = seen
    if (gap !== undefined) {
      counters.gaps++
      if (onGap !== undefined) await onGap(gap, stream)
    }
  }

  #passes(sub: Subscription, ev: StoredEvent): boolean {
    try {
      return sub.filter!(this.#view({ ...ev, serialized: ev.serialized === true }))
    } catch (error) {
      this.#onError(error)
      return false
    }
  }
}

function closedError(): SseError {
  return new SseError(
    'ERR_SSE_CHANNEL_CLOSED',
    '@ssekit/core: this channel is closed; create a new channel to publish or subscribe again.',
  )
}

function checkChannelOptions(options: ChannelOptions): ChannelOptions {
  const fail = (name: string, accepts: string, value: unknown) =>
    new SseTypeError(
      'ERR_SSE_INVALID_OPTION',
      `@ssekit/core: channel option "${name}" must be ${accepts}; received ${describe(value)}.`,
    )
  if (typeof options !== 'object' || options === null) throw fail('options', 'an object', options)
  const o = { ...options }
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
    throw fail('name', 'a non-empty string', o.name)
  }
  if (o.broker !== undefined) {
    if (typeof o.broker?.publish !== 'function' || typeof o.broker?.subscribe !== 'function') {
      throw fail('broker', 'a Broker with publish() and subscribe()', o.broker)
    }
    if (o.name === undefined)
      throw fail('name', 'set when there is a broker (it is the topic)', o.name)
  }
  if (
    o.store !== undefined &&
    (typeof o.store?.append !== 'function' || typeof o.store?.readAfter !== 'function')
  ) {
    throw fail('store', 'an EventStore with append() and readAfter()', o.store)
  }
  if (o.event !== undefined) {
    if (typeof o.event !== 'string' || /[\r\n]/.test(o.event))
      throw fail('event', 'a string without CR or LF', o.event)
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

/**
 * Creates a broadcast channel.
 *
 * @example
 * const prices = createChannel({ event: 'price', store: new MemoryEventStore() })
 * app.get('/prices', async (req, res) => { await prices.subscribe(res.sse()) })
 * setInterval(() => prices.publish({ symbol: 'ACME', price: quote() }), 1000)
 */
export function createChannel<T = unknown>(options?: ChannelOptions): Channel<T> {
  return new Channel<T>(options)
}
