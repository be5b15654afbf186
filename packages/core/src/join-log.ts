import { encodeText, toBytes } from './encode.js'
import { type LogHub, READ_BATCH } from './log-hub.js'
import { replayLog } from './replay.js'
import type { EventStore, Gap, ReadResult, StoredEvent } from './store.js'
import type { Subscription } from './subscription.js'

/**
 * Joins a subscription to a named log: it replays what follows the stream's Last-Event-ID
 * (or the whole log, `fromStart`) up to where the hub was when it joined, then the live
 * entries that queued meanwhile, exactly once each. While the status can still be chosen it
 * reads the first batch: a client that has all of an ended log is answered 204, and a store
 * that cannot be reached turns the client back with a `retry:` (then rejects). On an ended
 * log, the stream closes after what it lacked.
 */
export async function joinLog(
  sub: Subscription,
  hub: LogHub,
  store: EventStore,
  name: string,
  fromStart: boolean,
): Promise<void> {
  const stream = sub.stream
  const invalid = stream.lastEventId === undefined ? stream._invalidLastEventId : undefined
  let first: ReadResult | undefined
  let until: LogHub['position']
  try {
    await hub.ready
    // From here every new entry reaches the subscription (queued while it replays).
    hub.join(sub)
    until = hub.position
    const after = stream.lastEventId
    if (invalid === undefined && (after !== undefined || hub.ended || fromStart)) {
      first = await store.read(name, after, READ_BATCH)
    }
  } catch (error) {
    // The store is away: a browser EventSource gives up for good on an error status, so
    // the client is told to come back later instead.
    sub.off()
    stream._refuse('unavailable')
    throw error
  }
  if (stream.closed) {
    sub.off()
    return
  }
  // Nothing but the end is left for this client: 204.
  const events = first?.events
  if (hub.ended && events !== undefined && (events.length === 0 || events[0]!.end === true)) {
    sub.off()
    stream._refuse('finished')
    return
  }
  stream._release()
  let ended = false
  let gap: Gap | undefined =
    invalid === undefined ? first?.gap : { reason: 'invalid', lastEventId: invalid }
  if (events !== undefined) {
    try {
      const write = (entry: StoredEvent) => replayWrite(sub, entry)
      const result = await replayLog(store, name, stream.lastEventId, until, write, first)
      ended = result.ended
      gap ??= result.gap
    } catch (error) {
      sub.off()
      stream.close()
      throw error
    }
  }
  await sub.flush(until)
  if (gap !== undefined) await sub.gap(gap)
  if (hub.ended && !stream.closed) {
    // Nothing more can come. A client whose id could not be resumed is given the end's id
    // (an id-only frame sets Last-Event-ID without an event), so that its reconnect is
    // answered 204 rather than looping on the same gap.
    if (gap !== undefined && hub.position.id !== undefined) {
      stream._write(`id: ${hub.position.id}\n\n`)
    }
    stream.close()
  } else if (ended) stream.close()
}

/** Writes one replayed entry (its own frame); false once the stream closed. */
async function replayWrite(sub: Subscription, entry: StoredEvent): Promise<boolean> {
  const stream = sub.stream
  if (stream.closed) return false
  if (!sub.passes(entry)) return true
  const bytes = toBytes(encodeText(entry.data, entry.event, entry.id, entry.retry))
  return stream._write(bytes) || (await stream._whenWritable())
}
