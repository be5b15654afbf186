/** Process-wide counters, plain numbers a user can export to any metrics system. */
export interface SseMetrics {
  /** Streams open right now. */
  openStreams: number
  /** Streams opened since the process started. */
  streamsOpened: number
  /** Events written by `send` or delivered by a channel (one per subscriber reached). */
  eventsSent: number
  /** Events published to channels (one per `publish`, however many subscribers). */
  eventsPublished: number
  /** Bytes handed to transports: events, comments, heartbeats, padding. */
  bytesWritten: number
  /** Streams closed because their client fell more than `maxBufferedBytes` behind. */
  slowClientsDropped: number
  /** Replays that ran from a store (a reconnect whose Last-Event-ID was resumed). */
  replays: number
  /** Events written by replays. */
  eventsReplayed: number
  /** Last-Event-IDs that could not be resumed (unknown, expired or invalid). */
  gaps: number
  /** Requests turned away by `maxStreams` or a channel's `maxSubscribers`. */
  refusedOverLimit: number
  /** Requests refused by an `authorize` hook. */
  refusedUnauthorized: number
}

/** @internal The live counters; read them through {@link getMetrics}. */
export const counters: SseMetrics = {
  openStreams: 0,
  streamsOpened: 0,
  eventsSent: 0,
  eventsPublished: 0,
  bytesWritten: 0,
  slowClientsDropped: 0,
  replays: 0,
  eventsReplayed: 0,
  gaps: 0,
  refusedOverLimit: 0,
  refusedUnauthorized: 0,
}

/**
 * A snapshot of this process's SSE counters.
 * @example
 * app.get('/metrics', (req, res) => res.json(getMetrics()))
 */
export function getMetrics(): SseMetrics {
  return { ...counters }
}
