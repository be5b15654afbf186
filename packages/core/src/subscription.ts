import type { SseEvent } from './encode.js'
import { reportGap } from './gap.js'
import type { HubMember } from './log-hub.js'
import { counters } from './metrics.js'
import type { Gap, StoredEvent } from './store.js'
import type { EventStream } from './stream.js'

/** What a subscription needs of its channel. */
export interface SubscriptionHost {
  /** The event a filter sees for an entry (deserialized once per entry). */
  view(entry: StoredEvent): SseEvent
  report(error: unknown): void
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
  off: () => void = () => {}

  constructor(
    stream: EventStream,
    filter: ((event: SseEvent) => boolean) | undefined,
    host: SubscriptionHost,
    onGap: ((gap: Gap, stream: EventStream) => void | Promise<void>) | undefined,
    replaying: boolean,
  ) {
    this.stream = stream
    this.#filter = filter
    this.#host = host
    this.#onGap = onGap
    if (replaying) this.#queue = []
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
