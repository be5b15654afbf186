/**
 * The event store: named logs, the truth that channels deliver from. Storing and notifying
 * are one step; each entry carries a gap-free sequence; ids carry the log's epoch.
 */

/** An entry of a log as a store keeps it: `data` already serialized to text. */
export interface StoredEvent {
  /** The id on the wire: it names the log's epoch and the entry's place in it. */
  readonly id: string
  /** Place in the log: 1, 2, 3… with no gaps, however many processes append. */
  readonly seq: number
  /** The log's epoch: a new one when a log is created (again, after it was lost). */
  readonly epoch: string
  readonly data: string
  readonly event?: string
  readonly retry?: number
  /**
   * True when `data` came from the serializer (the payload was not a string), so that a
   * filter sees on replay the same value as live: the deserialized payload, or the string
   * as it was published.
   */
  readonly serialized?: boolean
  /** Set on the entry that ends the log. It is not an event: readers close after it. */
  readonly end?: true
}

/** What {@link EventStore.append} takes: an event whose data is already text. */
export interface StoreInput {
  readonly data: string
  readonly event?: string
  readonly retry?: number
  /** True when `data` came from the serializer; keep it and give it back. */
  readonly serialized?: boolean
}

/**
 * Why a Last-Event-ID could not be resumed:
 * - `'unknown'`: not an id of this log: another store or log, a log that was lost (its epoch
 *   is gone: a restart, an eviction), an id newer than the log, a forged value;
 * - `'expired'`: it was, but the events after it are no longer retained;
 * - `'invalid'`: the value could not be an id at all (too long, or contains CR, LF or NUL).
 */
export type GapReason = 'unknown' | 'expired' | 'invalid'

/** Reported instead of a replay when the events after a Last-Event-ID cannot be given. */
export interface Gap {
  readonly reason: GapReason
  /** The Last-Event-ID the client sent, at most 1024 characters of it. */
  readonly lastEventId: string
}

/**
 * The answer of {@link EventStore.read}: entries in log order (the end entry last, if the
 * log ended within them), or a gap.
 */
export type ReadResult =
  | { readonly events: readonly StoredEvent[]; readonly gap?: undefined }
  | { readonly events?: undefined; readonly gap: Gap }

/** What a store knows of one log. */
export interface LogInfo {
  /** The log has entries, has ended, or has a lease on it. */
  readonly exists: boolean
  readonly ended: boolean
  /** Its newest entry (the end entry, once ended), or undefined while it has none. */
  readonly last: { readonly id: string; readonly seq: number; readonly epoch: string } | undefined
}

/** Receives a followed log's new entries. */
export interface LogListener {
  /**
   * A new entry. Entries come in log order; after a lost connection one may be missing or
   * come twice, and the follower refills or skips by `seq`.
   */
  entry(event: StoredEvent): void
  /** The store was cut off from the log and is back: entries may have been missed. */
  resync(): void
}

/** A producer's hold on a log; see {@link EventStore.lease}. */
export interface StoreLease {
  /** Aborted on a cancel from any process, or when the lease was lost. */
  readonly signal: AbortSignal
  /** Gives the lease up without ending the log. */
  release(): Promise<void>
}

/**
 * Keeps named logs for delivery and replay. Ids are assigned by the store; `read` must never
 * throw for an id it did not give out: it reports a gap. `MemoryEventStore` (one process)
 * and `RedisEventStore` from `@ssekit/redis` (many) implement it.
 */
export interface EventStore {
  /**
   * Appends to log `name` and notifies its followers, in one step. Resolves to the entry.
   * Rejects on a log that has ended.
   */
  append(name: string, event: StoreInput): StoredEvent | Promise<StoredEvent>
  /**
   * Up to `limit` entries after `after` (a Last-Event-ID; `undefined` for the oldest
   * retained), or a gap when `after` cannot be resumed.
   */
  read(name: string, after: string | undefined, limit: number): ReadResult | Promise<ReadResult>
  /** What is known of log `name`. */
  info(name: string): LogInfo | Promise<LogInfo>
  /** Calls `listener` with every entry appended to `name` from now on; returns the remover. */
  follow(name: string, listener: LogListener): () => void
  /**
   * Ends log `name` (after `final`, when given): followers get the end entry, and the log
   * expires later. Ending an ended log again does nothing, but with a `final` event it
   * rejects (`ERR_SSE_LOG_ENDED`): the event would be lost.
   */
  end(name: string, final?: StoreInput): Promise<void> | void
  /**
   * Takes the lease on log `name` for the one process producing it. The store renews it
   * while held; when the holder dies, the log ends with an error event within seconds.
   * Rejects when another holder has it.
   */
  lease(name: string, ttlMs: number): Promise<StoreLease>
  /** Aborts the signal of the lease on `name`, wherever its holder runs. */
  cancel(name: string): Promise<void> | void
}
