import type { SseEvent } from './encode.js'
import { reportGap } from './gap.js'
import type { HubMember, LogHub } from './log-hub.js'
import { counters } from './metrics.js'
import type { Gap, StoredEvent } from './store.js'
import type { EventStream } from './stream.js'

/** What a subscription needs of its channel. */
export interface SubscriptionHost {
  /** The event a filter sees for an entry (deserialized once per entry). */
  view(entry: StoredEvent): SseEvent
  report(error: unknown): void
  /** Forgets `sub` (it unsubscribed, or its stream closed). */
  detach(sub: Subscription): void
}

/**
 * One stream on one channel: filters, and holds live entries back while its replay runs so
 * that it gets everything exactly once and in order.
 */
export class Subscription implements HubMember {
  readonly stream: EventStream
  readonly #filter: ((event: SseEvent) => boolean) | undefined
  readonly #host: SubscriptionHost
  readonly #onGap: ((gap: Gap, stream: EventStream) => void | Promise<void>) | undefined
  /** Live entries that came while the replay ran, with their shared frames. */
  #queue: [StoredEvent, Uint8Array][] | undefined
  /** The log's hub, for a channel with a store: let go of on `off()`. */
  #hub: LogHub | undefined

  /** Joins `stream` (told when it closes); a subscription to a log replays first. */
  constructor(
    stream: EventStream,
    filter: ((event: SseEvent) => boolean) | undefined,
    host: SubscriptionHost,
    onGap: ((gap: Gap, stream: EventStream) => void | Promise<void>) | undefined,
    hub: LogHub | undefined,
  ) {
    this.stream = stream
    this.#filter = filter
    this.#host = host
    this.#onGap = onGap
    this.#hub = hub
    if (hub !== undefined) this.#queue = []
    stream._watch(this)
  }

  /** Unsubscribes: the stream stays open. Safe to call more than once. */
  off(): void {
    this.stream._unwatch(this)
    this.#host.detach(this)
    const hub = this.#hub
    this.#hub = undefined
    hub?.release(this)
  }

  /** @internal The stream closed. */
  streamClosed(): void {
    this.off()
  }

  /** @internal HubMember */
  take(entry: StoredEvent, bytes: Uint8Array, now?: number): void {
    if (this.#queue !== undefined) this.#queue.push([entry, bytes])
    else this.write(entry, bytes, now)
  }

  /** @internal HubMember */
  lost(gap: Gap): void {
    void this.gap(gap)
  }

  /**
   * Writes one entry (or, for the end entry, closes the stream). Resolves... returns false
   * when the transport is over its mark (the caller may wait for it).
   */
  write(entry: StoredEvent, bytes: Uint8Array, now?: number): boolean {
    if (entry.end === true) {
      this.stream.close()
      return false
    }
    if (!this.passes(entry)) return true
    counters.eventsSent++
    return this.stream._write(bytes, now)
  }

  /** Whether the filter lets `entry` through; a throwing filter is reported and skips it. */
  passes(entry: StoredEvent): boolean {
    if (this.#filter === undefined) return true
    try {
      return this.#filter(this.#host.view(entry))
    } catch (error) {
      this.#host.report(error)
      return false
    }
  }

  /** Writes what queued up during the replay (after `until`), then delivers live. */
  async flush(until: { readonly seq: number; readonly epoch: string | undefined }): Promise<void> {
    const queue = this.#queue ?? []
    for (let i = 0; i < queue.length; i++) {
      const [entry, bytes] = queue[i]!
      if (entry.epoch === until.epoch && entry.seq <= until.seq) continue
      if (!this.write(entry, bytes) && !(await this.stream._whenWritable())) break
    }
    this.#queue = undefined
  }

  /** Reports a gap to `onGap` (and the metrics). */
  async gap(gap: Gap): Promise<void> {
    try {
      await reportGap(gap, this.stream, this.#onGap)
    } catch (error) {
      this.#host.report(error)
    }
  }
}
