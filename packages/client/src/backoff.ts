/** How long to wait before a reconnect: pure functions, tested with a fixed `random`. */

/**
 * The least spread of the n-th wait, in ms, for a base under it: a server's `retry: 0` still
 * spreads reconnects in a row (100, 200, 400 ms…) instead of spinning.
 */
export const MIN_SPREAD = 100

/**
 * The wait before reconnect number `attempt` (1 for the first after a drop), with `base` the
 * server's `retry:` or the `delay` option: at least `base` (the server asked for that much),
 * plus full jitter up to `max(base, 100) × 2^attempt`, everything capped at `maxDelay`.
 */
export function backoffDelay(
  attempt: number,
  base: number,
  maxDelay: number,
  random: () => number = Math.random,
): number {
  const floor = Math.min(base, maxDelay)
  const ceiling = Math.min(maxDelay, Math.max(floor, MIN_SPREAD) * 2 ** attempt)
  return floor + random() * (ceiling - floor)
}

/**
 * A `Retry-After` value (seconds, or an HTTP date) in ms from `now`; undefined when absent or
 * unreadable.
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
