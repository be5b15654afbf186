/** An event as an {@link EventStore} keeps it: `data` already serialized to text. */
export interface StoredEvent {
  readonly id: string
  readonly data: string
  readonly event?: string
  readonly retry?: number
  /**
   * True when `data` came from the serializer (the payload was not a string), so that a
   * channel's filter sees on replay the same value as live: the deserialized payload, or
   * the string as it was published.
   */
  readonly serialized?: boolean
}

/** What {@link EventStore.append} takes: an event whose data is already text. */
export interface StoreInput {
  readonly data: string
  readonly event?: string
  readonly retry?: number
  /** True when `data` came from the serializer; keep it and give it back on replay. */
  readonly serialized?: boolean
}

/**
 * Why a Last-Event-ID could not be resumed:
 * - `'unknown'`: not an id this store gave out (another store, a restart, a forged value);
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

/** The answer of {@link EventStore.readAfter}: the events after the id, in order, or a gap. */
export type ReadResult =
  | { readonly events: readonly StoredEvent[]; readonly gap?: undefined }
  | { readonly events?: undefined; readonly gap: Gap }

/**
 * Keeps events for Last-Event-ID replay. Ids are assigned by the store, are monotonic and
 * comparable within it. `readAfter` must never throw for an id it did not give out: it
 * reports a gap.
 */
export interface EventStore {
  append(event: StoreInput): string | Promise<string>
  readAfter(lastEventId: string): ReadResult | Promise<ReadResult>
}
