import { admitStream } from './admission.js'
import { BehindMeter } from './behind.js'
import {
  type Chunk,
  chunkLength,
  encodeComment,
  encodePadding,
  encodeRetry,
  encodeText,
  type SseEvent,
  serializeData,
  toEvent,
} from './encode.js'
import { reportUnhandled, SseError, storeAssignsIds, warnUnhandled } from './errors.js'
import { type AnyEvents, type EventMap, type SendInput, validateEvent } from './events.js'
import { reportGap } from './gap.js'
import { streamHeaders } from './headers.js'
import { type Beating, type HeartbeatGroup, heartbeatGroup } from './heartbeat.js'
import { readLastEventId } from './last-event-id.js'
import { counters } from './metrics.js'
import { pickRetry, type ResolvedOptions, type RetryOption } from './options.js'
import { OwnLog } from './own-log.js'
import { type PipeTarget, pipe } from './pipe.js'
import { answerRefusal, type Refusal } from './refusal.js'
import { allStreams, type Closable, type StreamGroup } from './registry.js'
import type { Gap } from './store.js'
import type { Transport, TransportListener } from './transport.js'

const PENDING = 0
const OPEN = 1
const CLOSED = 2

const TRUE = Promise.resolve(true)
const FALSE = Promise.resolve(false)
const HEARTBEAT = encodeComment()

/** How a stream was started; built by the transports. */
export interface StreamInit {
  /** The raw Last-Event-ID (header, or query parameter when configured). */
  lastEventId: string | null | undefined
  /** Passed to `authorize`: the framework's request or context. */
  context: unknown
  /** A group besides the process-wide one (an adapter's app). */
  group?: StreamGroup | undefined
  /** Where warnings go without `onError`: the framework's logger, rate-limited. */
  warn?: ((error: Error) => void) | undefined
}

/**
 * One open Server-Sent Events connection. Created by a transport (`createEventStream`,
 * `createEventStreamResponse`) or an adapter (`res.sse()`, `reply.sse()`, `c.sse()`).
 *
 * The response opens (status 200 and headers, flushed) on the first write or at the end
 * of the current tick, whichever comes first; then padding, `retry:`, the replay from
 * `store`, and live events.
 */
export class EventStream<M extends EventMap = AnyEvents>
  implements TransportListener, Beating, Closable
{
  /** The Last-Event-ID the client sent, or `undefined` when it sent none (or an unusable one). */
  readonly lastEventId: string | undefined

  readonly #transport: Transport
  readonly #options: ResolvedOptions
  readonly #group: StreamGroup | undefined
  readonly #warn: (error: Error) => void
  /** `maxBufferedBytes` is under the transport's mark: check it on every write. */
  #state: 0 | 1 | 2 = PENDING
  /** Whether the client is behind or only busy; see behind.ts. */
  readonly #behind = new BehindMeter()
  #holds = 0
  #held: Chunk[] | undefined
  #heldBytes = 0
  #abort: AbortController | undefined
  /** What to tell when the stream closes: the first one alone, any more in a set. */
  #closeOne: CloseWatcher | undefined
  #closeMore: Set<CloseWatcher> | undefined
  #drain: Promise<boolean> | undefined
  #resolveDrain: ((ok: boolean) => void) | undefined
  #hb: HeartbeatGroup | undefined
  #invalidLastEventId: string | undefined
  /** The `store` option's log, which this stream writes to and replays from. */
  #own: OwnLog | undefined
  #closeAfterReplay = false

  /** This stream as the untyped hooks (`onGap`, `onError`) take it. */
  get #untyped(): EventStream {
    return this as unknown as EventStream
  }

  /** @internal heartbeat list links; see heartbeat.ts */
  hbLast = 0
  /** @internal */
  hbPrev: Beating | undefined = undefined
  /** @internal */
  hbNext: Beating | undefined = undefined
  /** @internal */
  hbGroup: HeartbeatGroup | undefined = undefined

  /** @internal Use a transport's factory or an adapter instead. */
  constructor(transport: Transport, options: ResolvedOptions, init: StreamInit) {
    this.#transport = transport
    this.#options = options
    this.#group = init.group
    this.#warn = init.warn ?? warnUnhandled
    const last = readLastEventId(init.lastEventId)
    this.lastEventId = last?.id
    this.#invalidLastEventId = last?.invalid
    if (options.store !== undefined) this.#own = new OwnLog(options.store, this, last !== undefined)
    transport.attach(this)
    admitStream(this, options, init.context, init.group)
  }

  /** True once the stream has ended, by either side. */
  get closed(): boolean {
    return this.#state === CLOSED
  }

  /** Aborted when the client disconnects or the stream is closed. */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController()
      if (this.#state === CLOSED) this.#abort.abort()
    }
    return this.#abort.signal
  }

  /**
   * Calls `fn` once when the stream closes (at once if it already has). Returns a function
   * that removes `fn`.
   */
  onClose(fn: () => void): () => void {
    if (this.#state === CLOSED) {
      this.#safely(fn)
      return noop
    }
    this._watch(fn)
    return () => this._unwatch(fn)
  }

  /**
   * @internal Tells `watcher` when the stream closes: `onClose` without a closure per
   * subscriber. Nothing happens if the stream has closed already.
   */
  _watch(watcher: CloseWatcher): void {
    if (this.#state === CLOSED || watcher === this.#closeOne) return
    if (this.#closeOne === undefined && this.#closeMore === undefined) this.#closeOne = watcher
    else {
      this.#closeMore ??= new Set()
      this.#closeMore.add(watcher)
    }
  }

  /** @internal */
  _unwatch(watcher: CloseWatcher): void {
    if (this.#closeOne === watcher) this.#closeOne = undefined
    else this.#closeMore?.delete(watcher)
  }

  /**
   * Sends one event: a bare payload, or an {@link SseEvent} `{ data, event?, id?, retry? }`
   * (a plain object whose only keys are those; wrap a payload that looks like one).
   *
   * Resolves `true` once the transport has accepted the event, after waiting for drain when
   * it is over its high-water mark; `false` if the stream is or became closed. It never
   * rejects because the client went away. With a `store`, the store assigns the id.
   *
   * @throws TypeError at once for a field that cannot be written (see `encode`).
   */
  send(input: SendInput<M>): Promise<boolean> {
    const ev = toEvent(input)
    const data = ev.data
    validateEvent(this.#options.schema, ev.event ?? 'message', data)
    const text = serializeData(data, this.#options.serializer)
    if (this.#own !== undefined) {
      // Validated before anything reaches the store; the store assigns the id.
      if (ev.id !== undefined) throw storeAssignsIds()
      encodeText('', ev.event, undefined, ev.retry)
      if (this.#state === CLOSED) return FALSE
      const serialized = typeof data !== 'string'
      return this.#own.send({ data: text, event: ev.event, retry: ev.retry, serialized })
    }
    const frame = encodeText(text, ev.event, ev.id, ev.retry)
    if (this.#state === CLOSED) return FALSE
    counters.eventsSent++
    return this.#accepted(this._write(frame))
  }

  /** @internal Writes a stream's own frame and resolves as `send` does. */
  _send(frame: string): Promise<boolean> {
    if (this.#state === CLOSED) return FALSE
    return this.#accepted(this._write(frame))
  }

  /** Sends a comment (ignored by clients; useful as a manual keep-alive or for debugging). */
  comment(text = ''): Promise<boolean> {
    const frame = encodeComment(text)
    if (this.#state === CLOSED) return FALSE
    return this.#accepted(this._write(frame))
  }

  /**
   * Sends every item of `source` in order, waiting for backpressure between items. Stops
   * when the source ends or the stream closes; in the second case the iterator's
   * `return()` is called so that the producer (an LLM request, a database cursor) stops
   * too. The stream stays open when the source ends: send a final event and `close()`.
   */
  pipe(source: AsyncIterable<SendInput<M>> | Iterable<SendInput<M>>): Promise<void> {
    return pipe(this as PipeTarget, source)
  }

  /**
   * Ends the stream. Safe to call more than once. During a store replay, the stream ends
   * once the replay and the sends queued behind it are written.
   */
  close(): void {
    if (this.#state === CLOSED) return
    if (this.#state === PENDING) this.#open()
    if (this.#own?.replaying === true && this.#state === OPEN) {
      this.#closeAfterReplay = true
      return
    }
    this.#end()
  }

  #end(): void {
    this.#transport.end()
    this.#finish()
  }

  /**
   * @internal Writes a frame: its text, or (from a channel) bytes shared by every
   * subscriber. `now` saves a clock read per subscriber in a broadcast.
   */
  _write(chunk: Chunk, now?: number, lone = false): boolean {
    if (this.#state === OPEN) {
      const length = chunkLength(chunk)
      const ok = this.#transport.write(chunk, length, lone)
      counters.bytesWritten += length
      this.#hb?.touch(this, now ?? Date.now())
      this.#behind.wrote(length)
      if (
        !ok &&
        this.#behind.tooFar(this.#transport.buffered, length, this.#options.maxBufferedBytes)
      ) {
        this.#dropSlow()
        return false
      }
      return ok
    }
    if (this.#state === CLOSED) return false
    if (this.#holds === 0) {
      this.#open()
      return this._write(chunk, now, lone)
    }
    // Held by an authorize decision: keep the bytes until the stream opens or is refused.
    this.#held ??= []
    this.#held.push(chunk)
    const length = chunkLength(chunk)
    this.#heldBytes += length
    // As for an open stream: the newest frame, however big, is not "behind".
    if (this.#heldBytes - length > Math.max(this.#options.maxBufferedBytes, length)) {
      this.#dropSlow()
    }
    return false
  }

  /** @internal Resolves true once the transport takes more, false if the stream closed. */
  _whenWritable(): Promise<boolean> {
    return this.#accepted(false)
  }

  /** @internal Keeps the response from opening until the matching `_release()`. */
  _hold(): void {
    if (this.#state === PENDING) this.#holds++
  }

  /** @internal */
  _release(): void {
    if (this.#state !== PENDING || this.#holds === 0) return
    if (--this.#holds === 0) this.#open()
  }

  /** @internal True while the status line can still be chosen. */
  get _pending(): boolean {
    return this.#state === PENDING
  }

  /** @internal A Last-Event-ID that was sent but cannot be an id, for gap reports. */
  get _invalidLastEventId(): string | undefined {
    return this.#invalidLastEventId
  }

  /** @internal True when this stream replays from its own store (so no channel may). */
  get _ownsReplay(): boolean {
    return this.#options.store !== undefined
  }

  /** @internal The stream's heartbeat/serializer settings, for channels. */
  get _options(): ResolvedOptions {
    return this.#options
  }

  /**
   * @internal Turns the request away. `'unauthorized'`/`'forbidden'` answer 401/403;
   * `'limit'` answers as `overLimit` says; `'finished'` answers 204 (the client has all of a
   * log that ended: a browser EventSource stops); `'unavailable'` (the store is away)
   * answers 200 with a jittered `retry:` and closes, so that the client comes back later. An
   * already open stream can no longer change its status: it is ended, with a `retry:` hint
   * for `'limit'` and `'unavailable'`.
   */
  _refuse(why: Refusal): void {
    if (this.#state === CLOSED) return
    if (why === 'limit') counters.refusedOverLimit++
    else if (why === 'unauthorized' || why === 'forbidden') counters.refusedUnauthorized++
    if (this.#state === OPEN) {
      if (why === 'limit' || why === 'unavailable') this._shutdown(this.#options.limitRetry)
      else this.close()
      return
    }
    this.#held = undefined
    answerRefusal(this.#transport, this.#options, why)
    this.#finish()
  }

  /**
   * @internal Ends a stream that has not opened without writing anything, so that the
   * framework can answer instead (its error handler, for a handler that failed early).
   */
  _discard(): void {
    if (this.#state !== PENDING) return
    this.#held = undefined
    this.#transport.detach()
    this.#finish()
  }

  /**
   * @internal Ends the stream of a handler that failed: a 500 while the status can still
   * be chosen (rather than an empty stream a browser would retry), else a plain close.
   */
  _fail(): void {
    if (this.#state === PENDING) this._refuse('error')
    else this.close()
  }

  /** @internal Shutdown: a jittered `retry:` hint, then the end of the stream. */
  _shutdown(retry: RetryOption): void {
    if (this.#state === CLOSED) return
    if (this.#state === PENDING) {
      this.#holds = 0
      this.#open()
    }
    this._write(encodeRetry(pickRetry(retry)))
    if (this.#state === OPEN) this.#end()
  }

  /** @internal TransportListener */
  onDrain(): void {
    this.#behind.caughtUp()
    const resolve = this.#resolveDrain
    if (resolve === undefined) return
    this.#drain = undefined
    this.#resolveDrain = undefined
    resolve(true)
  }

  /** @internal TransportListener */
  onClientClose(): void {
    if (this.#state === CLOSED) return
    this.#transport.abort()
    this.#finish()
  }

  /** @internal Heartbeat */
  beat(now: number): void {
    this._write(HEARTBEAT, now, true)
  }

  /** @internal Opens the stream at the end of the tick, unless something holds it. */
  _openSoon(): void {
    queueMicrotask(() => {
      if (this.#state === PENDING && this.#holds === 0) this.#open()
    })
  }

  #open(): void {
    this.#state = OPEN
    this.#holds = 0
    counters.openStreams++
    counters.streamsOpened++
    const t = this.#transport
    const o = this.#options
    t.open(200, streamHeaders(t.connection, o.headers))
    if (o.heartbeat !== false) this.#hb = heartbeatGroup(o.heartbeat)
    let preamble = ''
    if (o.padding > 0) preamble += encodePadding(o.padding)
    if (o.retry !== undefined) preamble += encodeRetry(pickRetry(o.retry))
    // Some runtimes send a Web Response's headers with its first bytes only.
    if (preamble === '' && t.headersWaitForBody) preamble = encodeComment()
    if (preamble !== '') this._write(preamble)
    else this.#hb?.touch(this, Date.now())
    const held = this.#held
    if (held !== undefined) {
      this.#held = undefined
      this.#heldBytes = 0
      for (const chunk of held) if (this.#state === OPEN) this._write(chunk)
    }
    if (this.#own?.replaying === true && this.#state === OPEN) void this.#replay(this.#own)
  }

  #accepted(ok: boolean): Promise<boolean> {
    if (ok) return TRUE
    if (this.#state === CLOSED) return FALSE
    if (this.#state === PENDING) return TRUE // held until authorize decides; not yet a transport matter
    if (this.#drain === undefined) {
      this.#drain = new Promise((resolve) => {
        this.#resolveDrain = resolve
      })
    }
    return this.#drain
  }

  async #replay(own: OwnLog): Promise<void> {
    let gap: Gap | undefined
    try {
      gap = await own.replay(this.lastEventId, this.#invalidLastEventId)
    } catch (error) {
      this.#report(error)
      own.discard()
      this.#end()
      return
    }
    if (gap !== undefined && this.#state !== CLOSED) {
      // A throwing onGap is reported; the stream goes on.
      await reportGap(gap, this.#untyped, this.#options.onGap).catch((error) => this.#report(error))
    }
    if (this.#closeAfterReplay && this.#state === OPEN) this.#end()
  }

  #dropSlow(): void {
    if (this.#state === CLOSED) return
    counters.slowClientsDropped++
    const error = new SseError(
      'ERR_SSE_SLOW_CLIENT',
      `@ssekit/core: a client fell more than maxBufferedBytes (${this.#options.maxBufferedBytes}) behind and was cut off; it resumes through Last-Event-ID when a store is set. Raise maxBufferedBytes if your clients are slow but keep up.`,
    )
    if (this.#options.onError !== undefined) this.#report(error)
    else this.#warn(error)
    this.#held = undefined
    this.#transport.drop()
    this.#finish()
  }

  #finish(): void {
    const wasOpen = this.#state === OPEN
    this.#state = CLOSED
    if (wasOpen) counters.openStreams--
    this.#hb?.remove(this)
    this.#hb = undefined
    this.#own?.discard()
    this.#held = undefined
    allStreams._delete(this)
    this.#group?._delete(this)
    this.#abort?.abort()
    const resolve = this.#resolveDrain
    this.#drain = undefined
    this.#resolveDrain = undefined
    resolve?.(false)
    const one = this.#closeOne
    const more = this.#closeMore
    this.#closeOne = undefined
    this.#closeMore = undefined
    if (one !== undefined) this.#safely(one)
    if (more !== undefined) for (const watcher of more) this.#safely(watcher)
  }

  #safely(watcher: CloseWatcher): void {
    try {
      if (typeof watcher === 'function') watcher()
      else watcher.streamClosed()
    } catch (error) {
      this.#report(error)
    }
  }

  /** @internal */
  _report(error: unknown): void {
    this.#report(error)
  }

  #report(error: unknown, always = true): void {
    const onError = this.#options.onError
    if (onError !== undefined) {
      try {
        onError(error, this.#untyped)
      } catch {
        // An onError that throws has nowhere left to report to.
      }
    } else if (always) reportUnhandled(error)
  }
}

function noop(): void {}

/** Told when a stream closes: a function (`onClose`), or an object (a subscription). */
export type CloseWatcher = (() => void) | { streamClosed(): void }
