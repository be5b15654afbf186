import { READ_BATCH } from './log-hub.js'
import { counters } from './metrics.js'
import type { EventStore, Gap, ReadResult, StoredEvent } from './store.js'

/** How a replay ended. */
export interface ReplayResult {
  /** The Last-Event-ID could not be resumed; nothing was written. */
  gap?: Gap
  /** The replay reached the end of the log: the reader closes. */
  ended: boolean
}

/**
 * Replays log `name` after `after` (a Last-Event-ID; `undefined` for the oldest retained)
 * up to and including `until` (where the live delivery took over), in bounded batches. `write`
 * gets each entry in order, and resolves false to stop (the stream closed). `first` is the
 * first batch when the caller already read it. The one replay: a stream's own store and a
 * channel's subscribers both use it.
 */
export async function replayLog(
  store: EventStore,
  name: string,
  after: string | undefined,
  until: { readonly seq: number; readonly epoch: string | undefined },
  write: (entry: StoredEvent) => boolean | Promise<boolean>,
  first?: ReadResult,
): Promise<ReplayResult> {
  let cursor = after
  let counted = false
  for (let batch = 0; ; batch++) {
    const result =
      batch === 0 && first !== undefined ? first : await store.read(name, cursor, READ_BATCH)
    if (result.gap !== undefined) return { gap: result.gap, ended: false }
    if (!counted && after !== undefined) {
      counters.replays++
      counted = true
    }
    for (const entry of result.events) {
      // Past where the live delivery took over (or from another epoch): it has it.
      if (entry.epoch !== until.epoch || entry.seq > until.seq) return { ended: false }
      if (entry.end === true) return { ended: true }
      counters.eventsReplayed++
      if (!(await write(entry))) return { ended: false }
      cursor = entry.id
    }
    if (result.events.length < READ_BATCH) return { ended: false }
  }
}
