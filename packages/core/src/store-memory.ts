import { describe, rejectUnknownKeys, SseError, SseTypeError } from './errors.js'
import { MAX_LAST_EVENT_ID } from './last-event-id.js'
import { checkLogName } from './log-name.js'
import type {
  EventStore,
  Gap,
  LogInfo,
  LogListener,
  ReadResult,
  StoredEvent,
  StoreInput,
  StoreLease,
} from './store.js'

/** Options of {@link MemoryEventStore}. */
export interface MemoryEventStoreOptions {
  /**
   * Most events kept per log; the oldest go first.
   * @default 1000
   */
  maxEvents?: number
  /**
   * Events older than this many milliseconds are dropped.
   * @default Infinity (no age limit)
   */
  maxAgeMs?: number
  /**
   * How long an ended log is kept (for late readers and 204s), in milliseconds.
   * @default 300000 (5 minutes)
   */
  endedTtlMs?: number
}

interface Entry extends StoredEvent {
  readonly at: number
}

interface Log {
  readonly epoch: string
  entries: Entry[]
  /** Index in entries of the oldest retained entry. */
  head: number
  /** Sequence number of entries[head]. */
  first: number
  /** Sequence number the next append gets. */
  next: number
  ended: boolean
  lease: AbortController | undefined
}

const ID = /^([0-9a-z]{1,16})-([0-9]{1,15})$/

/**
 * The embedded event store: named logs in this process's memory, each keeping its last
 * `maxEvents` events (none older than `maxAgeMs`).
 *
 * Ids look like `k3x9q2-42`: the log's epoch (drawn at random when the log is created),
 * then its sequence number. Finding the events after an id is O(1). An id from another log,
 * or from before a restart, has another epoch and is reported as an `'unknown'` gap rather
 * than misread; an id whose followers were dropped is an `'expired'` gap. Ended logs are
 * forgotten `endedTtlMs` after they end, by one timer for the whole store.
 *
 * @example
 * const store = new MemoryEventStore({ maxEvents: 500, maxAgeMs: 5 * 60_000 })
 * const news = createChannel({ name: 'news', store })
 */
export class MemoryEventStore implements EventStore {
  readonly #maxEvents: number
  readonly #maxAgeMs: number
  readonly #endedTtlMs: number
  readonly #logs = new Map<string, Log>()
  readonly #followers = new Map<string, Set<LogListener>>()
  /** Ended logs in the order they expire (the TTL is the same for all). */
  #expiring: { name: string; log: Log; at: number }[] = []
  #expiringHead = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: MemoryEventStoreOptions = {}) {
    rejectUnknownKeys(options, ['maxEvents', 'maxAgeMs', 'endedTtlMs'], 'MemoryEventStore option')
    const { maxEvents = 1000, maxAgeMs = Number.POSITIVE_INFINITY, endedTtlMs = 300_000 } = options
    if (!(Number.isSafeInteger(maxEvents) && maxEvents > 0)) {
      throw optionError('maxEvents', 'a positive integer', maxEvents)
    }
    if (!isMs(maxAgeMs, true)) {
      throw optionError('maxAgeMs', 'a positive integer of milliseconds, or Infinity', maxAgeMs)
    }
    if (!isMs(endedTtlMs, false)) {
      throw optionError('endedTtlMs', 'a positive integer of milliseconds', endedTtlMs)
    }
    this.#maxEvents = maxEvents
    this.#maxAgeMs = maxAgeMs
    this.#endedTtlMs = endedTtlMs
  }

  /** Logs held right now. */
  get logs(): number {
    return this.#logs.size
  }

  append(name: string, input: StoreInput): StoredEvent {
    checkLogName(name)
    const log = this.#log(name, true)!
    if (log.ended) throw endedError(name)
    return this.#push(name, log, input, false)
  }

  read(name: string, after: string | undefined, limit: number): ReadResult {
    const log = this.#log(name, false)
    if (after === undefined) {
      if (log === undefined) return { events: [] }
      this.#expire(log, Date.now())
      return { events: log.entries.slice(log.head, log.head + limit) }
    }
    const match = typeof after === 'string' ? ID.exec(after) : null
    if (match === null || log === undefined || match[1] !== log.epoch) {
      return gap('unknown', String(after).slice(0, MAX_LAST_EVENT_ID))
    }
    const seq = Number(match[2])
    if (seq >= log.next || seq === 0) return gap('unknown', after)
    this.#expire(log, Date.now())
    // Everything from seq + 1 on must still be here, or something was lost in between.
    if (seq + 1 < log.first) return gap('expired', after)
    const start = log.head + (seq + 1 - log.first)
    return { events: log.entries.slice(start, start + limit) }
  }

  info(name: string): LogInfo {
    const log = this.#log(name, false)
    if (log === undefined) return { exists: false, ended: false, last: undefined }
    const seq = log.next - 1
    return {
      exists: true,
      ended: log.ended,
      last: seq === 0 ? undefined : { id: `${log.epoch}-${seq}`, seq, epoch: log.epoch },
    }
  }

  follow(name: string, listener: LogListener): () => void {
    let set = this.#followers.get(name)
    if (set === undefined) {
      set = new Set()
      this.#followers.set(name, set)
    }
    // Wrapped, so that the same listener following twice is two followers.
    const one: LogListener = { entry: (e) => listener.entry(e), resync: () => listener.resync() }
    set.add(one)
    return () => {
      set.delete(one)
      if (set.size === 0 && this.#followers.get(name) === set) this.#followers.delete(name)
    }
  }

  end(name: string, final?: StoreInput): void {
    checkLogName(name)
    const log = this.#log(name, true)!
    // Ending again is a no-op; ending again with a final event would lose it: refuse.
    if (log.ended) {
      if (final !== undefined) throw endedError(name)
      return
    }
    if (final !== undefined) this.#push(name, log, final, false)
    this.#push(name, log, { data: '' }, true)
  }

  async lease(name: string, _ttlMs: number): Promise<StoreLease> {
    checkLogName(name)
    const log = this.#log(name, true)!
    if (log.ended) throw endedError(name)
    if (log.lease !== undefined && !log.lease.signal.aborted) {
      throw new SseError(
        'ERR_SSE_LEASED',
        `@ssekit/core: log "${name.slice(0, 80)}" is already leased by another producer; one process generates a named log.`,
      )
    }
    // One process: the holder cannot die without the store, so there is nothing to renew.
    const controller = new AbortController()
    log.lease = controller
    return {
      signal: controller.signal,
      release: async () => {
        if (log.lease === controller) log.lease = undefined
      },
    }
  }

  cancel(name: string): void {
    this.#logs.get(name)?.lease?.abort()
  }

  #push(name: string, log: Log, input: StoreInput, end: boolean): Entry {
    const now = Date.now()
    this.#expire(log, now)
    const seq = log.next++
    const entry: { -readonly [K in keyof Entry]: Entry[K] } = {
      id: `${log.epoch}-${seq}`,
      seq,
      epoch: log.epoch,
      data: input.data,
      at: now,
    }
    if (input.event !== undefined) entry.event = input.event
    if (input.retry !== undefined) entry.retry = input.retry
    if (input.serialized === true) entry.serialized = true
    if (end) {
      entry.end = true
      log.ended = true
      log.lease?.abort()
      log.lease = undefined
      this.#expiring.push({ name, log, at: now + this.#endedTtlMs })
      if (this.#timer === undefined) this.#arm(now)
    }
    log.entries.push(entry)
    if (log.entries.length - log.head > this.#maxEvents) this.#drop(log, 1)
    const followers = this.#followers.get(name)
    if (followers !== undefined) for (const f of followers) f.entry(entry)
    return entry
  }

  #log(name: string, create: boolean): Log | undefined {
    let log = this.#logs.get(name)
    if (log === undefined && create) {
      log = {
        epoch: Math.random().toString(36).slice(2, 8).padEnd(6, '0'),
        entries: [],
        head: 0,
        first: 1,
        next: 1,
        ended: false,
        lease: undefined,
      }
      this.#logs.set(name, log)
    }
    return log
  }

  #expire(log: Log, now: number): void {
    if (this.#maxAgeMs === Number.POSITIVE_INFINITY) return
    const cutoff = now - this.#maxAgeMs
    let n = 0
    const entries = log.entries
    // The end entry stays: readers must still learn that the log ended.
    while (
      log.head + n < entries.length &&
      entries[log.head + n]!.at <= cutoff &&
      entries[log.head + n]!.end !== true
    ) {
      n++
    }
    if (n > 0) this.#drop(log, n)
  }

  #drop(log: Log, n: number): void {
    log.head += n
    log.first += n
    // Compact now and then, so dropping from the front stays O(1) amortized.
    if (log.head > 1024 && log.head * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.head)
      log.head = 0
    }
  }

  #arm(now: number): void {
    const next = this.#expiring[this.#expiringHead]
    if (next === undefined) return
    this.#timer = setTimeout(this.#sweep, Math.max(0, next.at - now))
    this.#timer.unref?.()
  }

  #sweep = (): void => {
    this.#timer = undefined
    const now = Date.now()
    const queue = this.#expiring
    while (this.#expiringHead < queue.length && queue[this.#expiringHead]!.at <= now) {
      const { name, log } = queue[this.#expiringHead]!
      queue[this.#expiringHead++] = undefined as never
      if (this.#logs.get(name) === log) this.#logs.delete(name)
    }
    if (this.#expiringHead === queue.length) {
      this.#expiring = []
      this.#expiringHead = 0
    } else if (this.#expiringHead > 1024 && this.#expiringHead * 2 > queue.length) {
      this.#expiring = queue.slice(this.#expiringHead)
      this.#expiringHead = 0
    }
    this.#arm(now)
  }
}

function gap(reason: Gap['reason'], lastEventId: string): ReadResult {
  return { gap: { reason, lastEventId } }
}

function isMs(value: number, infinite: boolean): boolean {
  return (
    (infinite && value === Number.POSITIVE_INFINITY) || (Number.isSafeInteger(value) && value > 0)
  )
}

function optionError(name: string, accepts: string, value: unknown): SseTypeError {
  return new SseTypeError(
    'ERR_SSE_INVALID_OPTION',
    `@ssekit/core: MemoryEventStore option "${name}" must be ${accepts}; received ${describe(value)}.`,
  )
}

/** The error of an append to a log that has ended. */
export function endedError(name: string): SseError {
  return new SseError(
    'ERR_SSE_LOG_ENDED',
    `@ssekit/core: log "${name.slice(0, 80)}" has ended; nothing more can be published to it. Use a new name for new work.`,
  )
}
