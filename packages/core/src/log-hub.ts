import { encodeText, toBytes } from './encode.js'
import { warnUnhandled } from './errors.js'
import type { EventStore, Gap, StoredEvent } from './store.js'

/** Entries read per store round trip, in replays and refills. */
export const READ_BATCH = 500

/** Where a log was when someone joined it: replay up to here, the hub delivers the rest. */
export interface Position {
  readonly seq: number
  readonly epoch: string | undefined
  readonly id: string | undefined
}

/** A subscriber as the hub sees it: it takes every entry after the position it joined at. */
export interface HubMember {
  /** A live entry, in log order, with its frame encoded once for everyone. */
  take(entry: StoredEvent, bytes: Uint8Array, now: number): void
  /** The log was lost under a live subscriber (a new epoch): events may be missing. */
  lost(gap: Gap): void
}

const hubs = new WeakMap<EventStore, Map<string, LogHub>>()

/**
 * The one follower of a named log in this process, shared by every channel of that name on
 * that store: it delivers the log's entries to all their subscribers exactly once and in
 * the log's order, whoever published them. Entries come from the store's notifications; a
 * gap in their sequence (a lost message, a reconnect) is refilled from the log, never
 * skipped. A hub exists only while it has members.
 */
export class LogHub {
  readonly store: EventStore
  readonly name: string
  /** Resolves once the hub knows where the log is; members join after. */
  readonly ready: Promise<void>
  readonly #members = new Set<HubMember>()
  readonly #unfollow: () => void
  /** Acquired and not yet released: the hub follows the log while this is above 0. */
  #refs = 0
  #onError: (error: unknown) => void = (error) =>
    warnUnhandled(error instanceof Error ? error : new Error(String(error)))
  /** The last entry delivered; seq 0 before any. */
  #pos: Position = { seq: 0, epoch: undefined, id: undefined }
  #ended = false
  #started = false
  /** Entries that came ahead of their turn (or before the hub was ready), by seq. */
  readonly #ahead = new Map<number, StoredEvent>()
  #early: StoredEvent[] | undefined = []
  #refilling = false
  #again = false
  #retry: ReturnType<typeof setTimeout> | undefined
  #retries = 0

  private constructor(store: EventStore, name: string) {
    this.store = store
    this.name = name
    // Follow first, then ask where the log is: nothing appended in between is missed.
    this.#unfollow = store.follow(name, {
      entry: (entry) => this.#entry(entry),
      resync: () => this.#refill(),
    })
    this.ready = Promise.resolve(store.info(name)).then((info) => {
      if (info.last !== undefined) this.#pos = info.last
      this.#ended = info.ended
      this.#started = true
      const early = this.#early ?? []
      this.#early = undefined
      for (const entry of early) this.#entry(entry)
    })
    // A failed start is reported to whoever awaits `ready`; keep it from being unhandled.
    this.ready.catch(() => {})
  }

  /**
   * The hub of `name` on `store`, made (and following the log) on first use. Each call must
   * be matched by one `release()`.
   */
  static acquire(store: EventStore, name: string, onError: (error: unknown) => void): LogHub {
    let byName = hubs.get(store)
    if (byName === undefined) {
      byName = new Map()
      hubs.set(store, byName)
    }
    let hub = byName.get(name)
    if (hub === undefined) {
      hub = new LogHub(store, name)
      byName.set(name, hub)
    }
    hub.#onError = onError
    hub.#refs++
    return hub
  }

  /** Where the log is: what has been delivered to members so far. */
  get position(): Position {
    return this.#pos
  }

  /** True once the end entry was delivered (or the log had ended when the hub started). */
  get ended(): boolean {
    return this.#ended
  }

  get size(): number {
    return this.#members.size
  }

  /** Adds a member; it gets every entry after `position` as it is now. */
  join(member: HubMember): void {
    this.#members.add(member)
  }

  /** Removes a member (if it joined) and gives back one `acquire()`. */
  release(member: HubMember): void {
    this.#members.delete(member)
    if (--this.#refs > 0) return
    this.#unfollow()
    clearTimeout(this.#retry)
    const byName = hubs.get(this.store)
    if (byName?.get(this.name) === this) byName.delete(this.name)
  }

  #entry(entry: StoredEvent): void {
    // A store must give whole entries; anything else cannot be placed in the log.
    if (!Number.isSafeInteger(entry.seq) || entry.seq < 1 || typeof entry.epoch !== 'string') {
      this.#onError(
        new TypeError(`@ssekit/core: log "${this.name}" got an entry without a valid seq`),
      )
      return
    }
    if (!this.#started) {
      this.#early?.push(entry)
      return
    }
    const pos = this.#pos
    if (pos.epoch !== undefined && entry.epoch !== pos.epoch) {
      // The log was lost and started again: what followed our last entry is gone.
      this.#newEpoch(entry.epoch)
    } else if (pos.epoch === undefined) {
      this.#pos = { seq: 0, epoch: entry.epoch, id: undefined }
    }
    if (entry.seq <= this.#pos.seq) return
    if (entry.seq === this.#pos.seq + 1 && !this.#refilling) {
      this.#deliver(entry)
      this.#drainAhead()
      return
    }
    this.#ahead.set(entry.seq, entry)
    this.#refill()
  }

  #newEpoch(epoch: string): void {
    const lost: Gap = { reason: 'unknown', lastEventId: this.#pos.id ?? '' }
    this.#pos = { seq: 0, epoch, id: undefined }
    this.#ahead.clear()
    this.#ended = false
    for (const member of this.#members) member.lost(lost)
  }

  #deliver(entry: StoredEvent): void {
    this.#pos = { seq: entry.seq, epoch: entry.epoch, id: entry.id }
    if (entry.end === true) this.#ended = true
    const bytes =
      entry.end === true
        ? EMPTY
        : toBytes(encodeText(entry.data, entry.event, entry.id, entry.retry))
    const now = Date.now()
    for (const member of this.#members) member.take(entry, bytes, now)
  }

  #drainAhead(): void {
    for (;;) {
      const next = this.#ahead.get(this.#pos.seq + 1)
      if (next === undefined) break
      this.#ahead.delete(next.seq)
      this.#deliver(next)
    }
    // Anything left behind the position is a duplicate.
    for (const seq of this.#ahead.keys()) if (seq <= this.#pos.seq) this.#ahead.delete(seq)
  }

  /** Reads what is missing after the position from the log, in order, then what came ahead. */
  #refill(): void {
    if (!this.#started) return
    if (this.#refilling) {
      this.#again = true
      return
    }
    this.#refilling = true
    void this.#read().then(
      () => {
        this.#refilling = false
        this.#retries = 0
        this.#drainAhead()
        if (this.#again) {
          this.#again = false
          this.#refill()
        }
      },
      (error: unknown) => {
        this.#refilling = false
        this.#onError(error)
        // The store is away: try again, backing off, while anyone listens.
        if (this.#refs === 0) return
        const delay = Math.min(2000, 100 * 2 ** this.#retries++) * (0.5 + Math.random() / 2)
        this.#retry = setTimeout(() => this.#refill(), delay)
        this.#retry.unref?.()
      },
    )
  }

  async #read(): Promise<void> {
    for (;;) {
      this.#again = false
      const result = await this.store.read(this.name, this.#pos.id, READ_BATCH)
      if (result.gap !== undefined) {
        // Our position is gone from the log (trimmed while we were away, or the log was
        // lost): tell the members, and carry on from what the log has now.
        const oldest = await this.store.read(this.name, undefined, 1)
        const first = oldest.events?.[0]
        const lost: Gap = { reason: result.gap.reason, lastEventId: this.#pos.id ?? '' }
        for (const member of this.#members) member.lost(lost)
        if (first === undefined) return
        this.#pos = { seq: first.seq - 1, epoch: first.epoch, id: undefined }
        this.#ahead.clear()
        this.#deliver(first)
        continue
      }
      for (const entry of result.events) {
        if (entry.epoch === this.#pos.epoch && entry.seq <= this.#pos.seq) continue
        if (this.#pos.epoch !== undefined && entry.epoch !== this.#pos.epoch) {
          this.#newEpoch(entry.epoch)
        }
        this.#deliver(entry)
      }
      if (result.events.length < READ_BATCH && !this.#again) return
    }
  }
}

const EMPTY = new Uint8Array(0)
