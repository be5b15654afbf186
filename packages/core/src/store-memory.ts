import { describe, SseTypeError } from './errors.js'
import { MAX_LAST_EVENT_ID } from './last-event-id.js'
import type { EventStore, ReadResult, StoredEvent, StoreInput } from './store.js'

/** Options of {@link MemoryEventStore}. */
export interface MemoryEventStoreOptions {
  /**
   * Most events kept; the oldest go first.
   * @default 1000
   */
  maxEvents?: number
  /**
   * Events older than this many milliseconds are dropped.
   * @default Infinity (no age limit)
   */
  maxAgeMs?: number
}

interface Entry extends StoredEvent {
  readonly at: number
}

const ID = /^([0-9a-z]{1,16})-([0-9]{1,15})$/

/**
 * The embedded event store: the last `maxEvents` events (and none older than
 * `maxAgeMs`), in this process's memory.
 *
 * Ids look like `k3x9q2-42`: a tag drawn at random when the store is made, then a
 * sequence number. Finding the events after an id is O(1). An id from another store or
 * from before a restart has another tag, so it is reported as an `'unknown'` gap rather
 * than misread; an id whose followers were dropped is an `'expired'` gap.
 *
 * @example
 * const store = new MemoryEventStore({ maxEvents: 500, maxAgeMs: 5 * 60_000 })
 * app.use(sse({ store }))
 */
export class MemoryEventStore implements EventStore {
  readonly #maxEvents: number
  readonly #maxAgeMs: number
  readonly #tag = Math.random().toString(36).slice(2, 8).padEnd(6, '0')
  #entries: Entry[] = []
  /** Index in #entries of the oldest retained event. */
  #head = 0
  /** Sequence number of #entries[#head]. */
  #first = 1
  /** Sequence number the next append gets. */
  #next = 1

  constructor(options: MemoryEventStoreOptions = {}) {
    const { maxEvents = 1000, maxAgeMs = Number.POSITIVE_INFINITY } = options
    if (!(Number.isSafeInteger(maxEvents) && maxEvents > 0)) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: MemoryEventStore option "maxEvents" must be a positive integer; received ${describe(maxEvents)}.`,
      )
    }
    if (
      !(maxAgeMs === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxAgeMs) && maxAgeMs > 0))
    ) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: MemoryEventStore option "maxAgeMs" must be a positive integer of milliseconds, or Infinity; received ${describe(maxAgeMs)}.`,
      )
    }
    this.#maxEvents = maxEvents
    this.#maxAgeMs = maxAgeMs
  }

  /** Events retained right now. */
  get size(): number {
    this.#expire(Date.now())
    return this.#entries.length - this.#head
  }

  append(event: StoreInput): string {
    const now = Date.now()
    this.#expire(now)
    const id = `${this.#tag}-${this.#next++}`
    const entry: Entry = { id, data: event.data, at: now }
    if (event.event !== undefined) (entry as { event?: string }).event = event.event
    if (event.retry !== undefined) (entry as { retry?: number }).retry = event.retry
    if (event.serialized === true) (entry as { serialized?: boolean }).serialized = true
    this.#entries.push(entry)
    if (this.#entries.length - this.#head > this.#maxEvents) this.#drop(1)
    return id
  }

  readAfter(lastEventId: string): ReadResult {
    const match = typeof lastEventId === 'string' ? ID.exec(lastEventId) : null
    if (match === null || match[1] !== this.#tag) {
      return {
        gap: { reason: 'unknown', lastEventId: String(lastEventId).slice(0, MAX_LAST_EVENT_ID) },
      }
    }
    const seq = Number(match[2])
    if (seq >= this.#next || seq === 0) return { gap: { reason: 'unknown', lastEventId } }
    this.#expire(Date.now())
    // Everything from seq + 1 on must still be here, or something was lost in between.
    if (seq + 1 < this.#first) return { gap: { reason: 'expired', lastEventId } }
    return { events: this.#entries.slice(this.#head + (seq + 1 - this.#first)) }
  }

  #expire(now: number): void {
    if (this.#maxAgeMs === Number.POSITIVE_INFINITY) return
    const cutoff = now - this.#maxAgeMs
    let n = 0
    const entries = this.#entries
    while (this.#head + n < entries.length && entries[this.#head + n]!.at <= cutoff) n++
    if (n > 0) this.#drop(n)
  }

  #drop(n: number): void {
    this.#head += n
    this.#first += n
    // Compact now and then, so dropping from the front stays O(1) amortized.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head)
      this.#head = 0
    }
  }
}
