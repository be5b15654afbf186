/**
 * One timer drives the heartbeat of every stream with the same interval. Streams sit in a
 * list ordered by their last write (a write moves a stream to the tail, in O(1) and
 * without allocating), so the head is always the next one due and the timer is set for it.
 */

/** A stream as the heartbeat scheduler sees it. */
export interface Beating {
  /** Time of the last write, from `Date.now()`. */
  hbLast: number
  hbPrev: Beating | undefined
  hbNext: Beating | undefined
  hbGroup: HeartbeatGroup | undefined
  /** Writes a heartbeat comment at `now` (which touches the stream again). */
  beat(now: number): void
}

class HeartbeatGroup {
  readonly interval: number
  head: Beating | undefined = undefined
  tail: Beating | undefined = undefined
  size = 0
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  #due = 0

  constructor(interval: number) {
    this.interval = interval
  }

  touch(node: Beating, now: number): void {
    node.hbLast = now
    if (node === this.tail) return
    if (node.hbGroup === this) this.#unlink(node)
    else {
      node.hbGroup = this
      this.size++
    }
    node.hbPrev = this.tail
    node.hbNext = undefined
    if (this.tail === undefined) this.head = node
    else this.tail.hbNext = node
    this.tail = node
    if (this.#timer === undefined) this.#arm(now)
  }

  remove(node: Beating): void {
    if (node.hbGroup !== this) return
    this.#unlink(node)
    node.hbGroup = undefined
    this.size--
    if (this.size === 0) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      if (groups.get(this.interval) === this) groups.delete(this.interval)
    }
  }

  #unlink(node: Beating): void {
    if (node.hbPrev === undefined) this.head = node.hbNext
    else node.hbPrev.hbNext = node.hbNext
    if (node.hbNext === undefined) this.tail = node.hbPrev
    else node.hbNext.hbPrev = node.hbPrev
    node.hbPrev = undefined
    node.hbNext = undefined
  }

  #arm(now: number): void {
    if (this.head === undefined) return
    this.#due = this.head.hbLast + this.interval
    this.#timer = setTimeout(this.#fire, Math.max(0, this.#due - now))
    // A heartbeat must never keep the process alive on its own.
    this.#timer.unref?.()
  }

  #fire = (): void => {
    this.#timer = undefined
    const now = Date.now()
    // Each beat moves its stream to the tail with hbLast = now, so the loop ends.
    for (let node = this.head; node !== undefined && node.hbLast + this.interval <= now; ) {
      node.beat(now)
      // A beat writes (moving the stream to the tail) or closes the stream (removing it);
      // should it do neither, move it on anyway so that this loop always ends.
      if (this.head === node) this.touch(node, now)
      node = this.head
    }
    if (this.#timer === undefined && this.size > 0) this.#arm(now)
  }
}

const groups = new Map<number, HeartbeatGroup>()

/**
 * Cloudflare Workers tie every timer and every write to the request that made it: a timer
 * shared by the streams of several requests would write to them on behalf of another
 * request, which workerd refuses (and cancels the stream). There, each stream gets a
 * scheduler of its own, armed from its own request.
 */
const perRequest =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ===
  'Cloudflare-Workers'

/** The shared scheduler for one interval (on Workers, one per stream). */
export function heartbeatGroup(interval: number): HeartbeatGroup {
  if (perRequest) return new HeartbeatGroup(interval)
  let group = groups.get(interval)
  if (group === undefined) {
    group = new HeartbeatGroup(interval)
    groups.set(interval, group)
  }
  return group
}

/** How many heartbeat timers are armed in this process (one per distinct interval). */
export function heartbeatTimers(): number {
  return groups.size
}

export type { HeartbeatGroup }
