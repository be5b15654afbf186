import { applyVerdict } from './admission.js'
import type { Broker, BrokerMessage, BrokerUnsubscribe } from './broker.js'
import {
  type ChannelOptions,
  checkChannelOptions,
  checkLeaseOptions,
  checkSubscribeOptions,
  type LeaseOptions,
  type SubscribeOptions,
} from './channel-options.js'
import {
  checkFields,
  encodeText,
  type Serializer,
  type SseEvent,
  serializeData,
  toBytes,
  toEvent,
} from './encode.js'
import { describe, SseError, SseTypeError, storeAssignsIds, warnUnhandled } from './errors.js'
import {
  type AnyEvents,
  type EventMap,
  type SendInput,
  type StandardSchemaV1,
  validateEvent,
} from './events.js'
import { joinLog } from './join-log.js'
import { LogHub } from './log-hub.js'
import { counters } from './metrics.js'
import { checkRetry, type RetryOption } from './options.js'
import type { EventStore, StoredEvent, StoreInput, StoreLease } from './store.js'
import type { EventStream } from './stream.js'
import { Subscription } from './subscription.js'
import { Viewer } from './view.js'

export type {
  ChannelOptions,
  FilterView,
  LeaseOptions,
  SubscribeOptions,
} from './channel-options.js'

const NOOP = (): void => {}

/**
 * A broadcast channel: every event published is serialized and encoded once per process,
 * and the same bytes are written to every subscriber. A slow subscriber never holds the
 * others back: writes do not wait for it, and `maxBufferedBytes` cuts it off (it resumes
 * by replay).
 *
 * With a `store`, the channel is the log of that name: channels with the same name on the
 * same store are one channel, in this process or in any other, and a publish through any of
 * them reaches all their subscribers once each, in the log's order, which is also the order
 * a replay gives.
 */
export class Channel<M extends EventMap = AnyEvents> {
  readonly name: string | undefined
  readonly #store: EventStore | undefined
  readonly #broker: Broker | undefined
  readonly #event: string | undefined
  readonly #serializer: Serializer
  readonly #viewer: Viewer
  readonly #schema: Readonly<Record<string, StandardSchemaV1>> | undefined
  readonly #customSerializer: boolean
  readonly #customDeserializer: boolean
  readonly #maxSubscribers: number
  readonly #authorize: ChannelOptions['authorize']
  readonly #onGap: ChannelOptions['onGap']
  readonly #onError: (error: unknown) => void
  readonly #subs = new Map<EventStream, Subscription>()
  readonly #host = {
    view: (entry: StoredEvent) => this.#viewer.view(entry),
    report: (error: unknown) => this.#onError(error),
    detach: (sub: Subscription) => {
      if (this.#subs.get(sub.stream) === sub) this.#subs.delete(sub.stream)
    },
  }
  #closed = false
  /** Admitted streams not yet added: they count against `maxSubscribers` already. */
  #reserved = 0
  #tail: Promise<unknown> = Promise.resolve()
  #brokerOff: Promise<BrokerUnsubscribe> | undefined

  /** @internal Use {@link createChannel}. */
  constructor(options: ChannelOptions = {}) {
    const o = checkChannelOptions(options)
    this.#store = o.store
    this.name = o.name ?? (o.store === undefined ? undefined : 'default')
    this.#broker = o.broker
    this.#event = o.event
    this.#serializer = o.serializer ?? JSON.stringify
    this.#viewer = new Viewer(o.deserializer ?? JSON.parse)
    this.#schema = o.schema as Readonly<Record<string, StandardSchemaV1>> | undefined
    this.#customSerializer = o.serializer !== undefined && o.serializer !== JSON.stringify
    this.#customDeserializer = o.deserializer !== undefined
    this.#maxSubscribers = o.maxSubscribers ?? Number.POSITIVE_INFINITY
    this.#authorize = o.authorize
    this.#onGap = o.onGap
    this.#onError =
      o.onError ??
      ((error) => warnUnhandled(error instanceof Error ? error : new Error(String(error))))
    if (this.#broker !== undefined) {
      this.#brokerOff = Promise.resolve(
        this.#broker.subscribe(this.name!, (message) => this.#deliverMessage(message)),
      )
      // Surface a failed broker subscription once, where errors go; publish awaits it too.
      this.#brokerOff.catch((error) => this.#onError(error))
    }
  }

  /** Subscribers through this channel object right now. */
  get size(): number {
    return this.#subs.size
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Adds `stream` to the channel: replays from the store what follows the stream's
   * Last-Event-ID (exactly once each, in order, even while others publish), then delivers
   * live events. On a log that has ended, a client that already has everything is answered
   * 204 (a browser `EventSource` stops), and any other gets what it lacks, then the end.
   * Resolves to a function that removes the subscription; a stream that closes leaves by
   * itself. A stream refused by `authorize` or `maxSubscribers` is answered and closed, and
   * the promise resolves to a no-op.
   */
  async subscribe(
    // biome-ignore lint/suspicious/noExplicitAny: a stream of any event map may join
    stream: EventStream<any>,
    options: SubscribeOptions<M> = {},
  ): Promise<() => void> {
    if (this.#closed) throw closedError()
    if (stream.closed) return NOOP
    const existing = this.#subs.get(stream)
    if (existing !== undefined) return () => existing.off()
    if (this.#store !== undefined && stream._ownsReplay) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        '@ssekit/core: this stream replays from its own `store` option, so a channel with a store cannot also replay it; drop one of the two stores (replay has one owner).',
      )
    }
    const { filter, from } = checkSubscribeOptions(
      options,
      this.#customSerializer && !this.#customDeserializer,
    )
    if (!(await this.#admit(stream, options.context))) return NOOP
    const onGap = options.onGap ?? this.#onGap
    if (this.#store === undefined) {
      const sub = this.#add(stream, filter, onGap, undefined)
      stream._release()
      return () => sub.off()
    }
    const hub = LogHub.acquire(this.#store, this.name!, this.#onError)
    const sub = this.#add(stream, filter, onGap, hub)
    await joinLog(sub, hub, this.#store, this.name!, from === 'start')
    return () => sub.off()
  }

  /**
   * Publishes one event (a bare payload or an `SseEvent`) to every subscriber, in every
   * process that follows the log (with a store) or through the broker. Resolves to the id
   * the store assigned (or the event's own `id` without a store).
   *
   * @throws TypeError at once for a field that cannot be written.
   */
  publish(input: SendInput<M>): Promise<string | undefined> {
    if (this.#closed) return Promise.reject(closedError())
    const ev = toEvent(input)
    const event = ev.event ?? this.#event
    validateEvent(this.#schema, event ?? 'message', ev.data)
    const data = serializeData(ev.data, this.#serializer)
    const ownId = checkFields(event, ev.id, ev.retry)
    const serialized = typeof ev.data !== 'string'
    const store = this.#store
    if (store !== undefined && ev.id !== undefined) throw storeAssignsIds()
    counters.eventsPublished++
    if (store !== undefined) {
      const stored: StoreInput = { data, event, retry: ev.retry, serialized }
      // The store notifies every follower of the log, this process's included (a memory
      // store at once, before the promise settles).
      let appended: StoredEvent | Promise<StoredEvent>
      try {
        appended = store.append(this.name!, stored)
      } catch (error) {
        return Promise.reject(error)
      }
      return 'then' in appended ? appended.then((entry) => entry.id) : Promise.resolve(appended.id)
    }
    const message: BrokerMessage = { id: ownId, data, event, retry: ev.retry, serialized }
    if (this.#broker === undefined) {
      this.#deliverMessage(message, { ...ev, event, id: ownId })
      return Promise.resolve(ownId)
    }
    // Keep publishes in order however the broker's steps settle.
    const result = this.#tail.then(async () => {
      await this.#brokerOff
      await this.#broker!.publish(this.name!, message)
      return ownId
    })
    this.#tail = result.catch(NOOP)
    return result
  }

  /**
   * Ends the channel's log, after `final` if given: every subscriber, in every process,
   * gets what was published before, then its stream closes; a later subscriber gets the
   * retained log, then the end; a reconnect that has it all is answered 204. Without a
   * store, the subscribers here are closed. Publishing afterwards rejects.
   */
  async end(final?: SendInput<M>): Promise<void> {
    if (this.#closed) throw closedError()
    if (this.#store === undefined) {
      if (final !== undefined) await this.publish(final)
      this.close()
      return
    }
    let input: StoreInput | undefined
    if (final !== undefined) {
      const ev = toEvent(final)
      const event = ev.event ?? this.#event
      validateEvent(this.#schema, event ?? 'message', ev.data)
      checkFields(event, ev.id, ev.retry)
      input = {
        data: serializeData(ev.data, this.#serializer),
        event,
        retry: ev.retry,
        serialized: typeof ev.data !== 'string',
      }
    }
    await this.#store.end(this.name!, input)
  }

  /**
   * Whether the channel's log exists (has events, has ended, or is leased), to answer 404
   * before opening a stream for a name nobody ever published to.
   */
  async exists(): Promise<boolean> {
    return (await this.#needStore('exists').info(this.name!)).exists
  }

  /** Whether the channel's log has ended. */
  async ended(): Promise<boolean> {
    return (await this.#needStore('ended').info(this.name!)).ended
  }

  /**
   * Takes the lease on the channel's log, for the one process producing it (an AI answer,
   * a job). If that process dies, the log ends with an `error` event within about `ttlMs`;
   * `lease.signal` aborts when anyone, in any process, calls `cancel()`. Rejects with
   * `ERR_SSE_LEASED` when another producer holds it.
   */
  async lease(options?: LeaseOptions): Promise<StoreLease> {
    const ttl = checkLeaseOptions(options)
    return this.#needStore('lease').lease(this.name!, ttl)
  }

  /** Asks the producer holding the lease on this log (in any process) to stop. */
  async cancel(): Promise<void> {
    await this.#needStore('cancel').cancel(this.name!)
  }

  /**
   * Runs `generate` in the background as the one producer of this named log (an AI answer,
   * a job), and resolves once it holds the lease: readers may subscribe from then on, in
   * this process or any other. The producer goes on when readers leave. It publishes through
   * this channel; when it returns, the log ends (after what it returned, if anything). If it
   * throws, the log ends with an `error` event (the error itself goes to `onError`, never to
   * the clients); on a `cancel()` from any instance, `signal` aborts and, once `generate`
   * returns or throws, the log ends with an `error` event `{ reason: 'cancelled' }` (what it
   * returned is not written), unless it ended the log itself. `done` settles when it is all
   * over.
   *
   * @example
   * const answer = createChannel<Answer>({ name: `answer:${id}`, store })
   * await answer.produce(async (signal) => {
   *   for await (const token of model(prompt, { signal })) {
   *     await answer.publish({ event: 'token', data: token })
   *   }
   *   return { event: 'done', data: { usage: 42 } }
   * })
   */
  async produce(
    // A producer that ends the log itself, or has nothing to add, returns nothing.
    // biome-ignore lint/suspicious/noConfusingVoidType: `async () => {}` must be accepted
    generate: (signal: AbortSignal) => Promise<SendInput<M> | undefined | void>,
    options?: LeaseOptions,
  ): Promise<{ readonly done: Promise<void> }> {
    if (typeof generate !== 'function') {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: produce() takes a function (signal) => Promise; received ${describe(generate)}.`,
      )
    }
    const lease = await this.lease(options)
    const finish = async (final: SendInput<M> | undefined) => {
      if (await this.ended()) return
      await this.end(final)
    }
    const failed = (reason: string) =>
      ({ event: 'error', data: { reason } }) as unknown as SendInput<M>
    const done = (async () => {
      try {
        const final = await generate(lease.signal)
        // Cancelled: the log says so, whatever the producer returned on its way out.
        await finish(lease.signal.aborted ? failed('cancelled') : (final ?? undefined))
      } catch (error) {
        // A producer that stops by throwing the abort (signal.throwIfAborted(), a fetch
        // given the signal) was cancelled, not broken: nothing to report.
        if (!lease.signal.aborted) this.#onError(error)
        await finish(failed(lease.signal.aborted ? 'cancelled' : 'failed')).catch(this.#onError)
      } finally {
        await lease.release().catch(() => {})
      }
    })()
    return { done }
  }

  /**
   * Ends this channel object and its subscribers' streams (with a `retry:` hint picked
   * within `retry`, if given). The log itself goes on (see `end()`). Further publishes and
   * subscribes reject.
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

  /**
   * Runs `maxSubscribers` and `authorize`; true when the stream may subscribe (held, with
   * its place reserved until `#add`).
   */
  async #admit(stream: EventStream, context: unknown): Promise<boolean> {
    if (this.#subs.size + this.#reserved >= this.#maxSubscribers) {
      stream._refuse('limit')
      return false
    }
    // Held until the status is known: a refusal (or a 204) can still answer instead.
    stream._hold()
    if (this.#authorize === undefined) {
      this.#reserved++
      return true
    }
    let verdict: unknown
    try {
      verdict = await this.#authorize(stream, context)
    } catch (error) {
      stream._refuse('error')
      throw error
    }
    if (verdict !== true) {
      applyVerdict(stream, verdict)
      return false
    }
    if (stream.closed) return false
    if (this.#closed) {
      // Closed while authorize ran: end the stream as close() ended the others.
      stream.close()
      return false
    }
    // Others may have joined while authorize ran: check the limit again.
    if (this.#subs.size + this.#reserved >= this.#maxSubscribers) {
      stream._refuse('limit')
      return false
    }
    this.#reserved++
    return true
  }

  #add(
    stream: EventStream,
    filter: SubscribeOptions<M>['filter'],
    onGap: SubscribeOptions<M>['onGap'],
    hub: LogHub | undefined,
  ): Subscription {
    const sub = new Subscription(
      stream,
      filter as ((event: SseEvent) => boolean) | undefined,
      this.#host,
      onGap,
      hub,
    )
    this.#reserved--
    this.#subs.set(stream, sub)
    return sub
  }

  /** A publish without a store: to this process's subscribers (and, through the broker, the others'). */
  #deliverMessage(message: BrokerMessage, original?: SseEvent): void {
    if (this.#closed) return
    const entry = message as unknown as StoredEvent
    const bytes = toBytes(encodeText(message.data, message.event, message.id, message.retry))
    const now = Date.now()
    if (original !== undefined) this.#viewer.seeAs(entry, original)
    for (const sub of this.#subs.values()) sub.take(entry, bytes, now)
  }

  #needStore(method: string): EventStore {
    if (this.#store === undefined) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: channel.${method}() needs a channel with a store (a named log); this one has none.`,
      )
    }
    return this.#store
  }
}

function closedError(): SseError {
  return new SseError(
    'ERR_SSE_CHANNEL_CLOSED',
    '@ssekit/core: this channel is closed; create a new channel to publish or subscribe again.',
  )
}

/**
 * Creates a broadcast channel.
 *
 * @example
 * const prices = createChannel({ name: 'prices', event: 'price', store: new MemoryEventStore() })
 * app.get('/prices', async (req, res) => { await prices.subscribe(res.sse()) })
 * setInterval(() => prices.publish({ symbol: 'ACME', price: quote() }), 1000)
 */
export function createChannel<M extends EventMap = AnyEvents>(
  // NoInfer: the map is given, never guessed from `event` or `schema`.
  options?: ChannelOptions<NoInfer<M>>,
): Channel<M> {
  return new Channel<M>(options as ChannelOptions)
}
