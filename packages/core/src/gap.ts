import { counters } from './metrics.js'
import type { Gap } from './store.js'
import type { EventStream } from './stream.js'

/**
 * Counts a gap and hands it to `onGap` (the application sends a snapshot from there). A
 * throwing `onGap` rejects, for the caller to report.
 */
export async function reportGap(
  gap: Gap,
  stream: EventStream,
  onGap: ((gap: Gap, stream: EventStream) => void | Promise<void>) | undefined,
): Promise<void> {
  counters.gaps++
  if (onGap !== undefined) await onGap(gap, stream)
}
