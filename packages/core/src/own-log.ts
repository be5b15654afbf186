import { encodeText } from './encode.js'
import { counters } from './metrics.js'
import { replayLog } from './replay.js'
import type { EventStore, Gap, StoredEvent, StoreInput } from './store.js'

/** The log a stream's own `store` option writes to and replays from. */
export const OWN_LOG = 'default'

/** What the own log needs of its stream. */
export interface OwnLogStream {
  readonly closed: boolean
  /** Writes a frame now; resolves true once accepted, false if the stream closed. */
  _send(frame: string): Promise<boolean>
  /** @internal */
  _write(frame: string): boolean
  /** @internal */
  _whenWritable(): Promise<boolean>
}

const TRUE = Promise.resolve(true)
const FALSE = Promise.resolve(false)
const noop = (): void => {}

/**
 * A stream that publishes to itself (the `store` stream option): every `send` is appended
 * to the store's `default` log, and a client that comes back with a Last-Event-ID is
 * replayed what follows it there. Sends made while the replay runs wait, so that each event
 * arrives once, in order.
 */
export class OwnLog {
  readonly #store: EventStore
  readonly #stream: OwnLogStream
  /** Entries sent while the replay runs. */
  #queue: StoredEvent[] | undefined
  /** Keeps sends in order however an async store's appends settle. */
  #tail: Promise<unknown> = TRUE

  constructor(store: EventStore, stream: OwnLogStream, replaying: boolean) {
    this.#store = store
    this.#stream = stream
    if (replaying) this.#queue = []
  }

  /** True until the replay has written everything before the live sends. */
  get replaying(): boolean {
    return this.#queue !== undefined
  }

  send(input: StoreInput): Promise<boolean> {
    const appended = this.#store.append(OWN_LOG, input)
    if (!isThenable(appended)) return this.#deliver(appended)
    const result = this.#tail.then(() => appended).then((entry) => this.#deliver(entry))
    this.#tail = result.catch(noop)
    return result
  }

  /**
   * Replays what follows `after` up to where the log was when the replay began, then the
   * sends that waited. Resolves to the gap, if `after` could not be resumed.
   */
  async replay(after: string | undefined, invalid: string | undefined): Promise<Gap | undefined> {
    const info = await this.#store.info(OWN_LOG)
    const until = info.last ?? { seq: 0, epoch: undefined }
    let gap: Gap | undefined
    // The last entry the replay wrote: queued sends up to it went out with the replay.
    let written = { seq: 0, epoch: '' }
    if (after === undefined) gap = { reason: 'invalid', lastEventId: invalid ?? '' }
    else {
      const result = await replayLog(this.#store, OWN_LOG, after, until, (entry) => {
        written = entry
        return this.#write(encodeText(entry.data, entry.event, entry.id, entry.retry))
      })
      gap = result.gap
    }
    // A send whose async append was still running may be in the replay already.
    await this.#tail
    const queue = this.#queue ?? []
    for (let i = 0; i < queue.length && !this.#stream.closed; i++) {
      const entry = queue[i]!
      if (entry.epoch === written.epoch && entry.seq <= written.seq) continue
      if (!(await this.#write(encodeText(entry.data, entry.event, entry.id, entry.retry)))) break
    }
    this.#queue = undefined
    return gap
  }

  /** Stops queueing (the stream closed). */
  discard(): void {
    this.#queue = undefined
  }

  #deliver(entry: StoredEvent): Promise<boolean> {
    if (this.#stream.closed) return FALSE
    counters.eventsSent++
    if (this.#queue !== undefined) {
      this.#queue.push(entry)
      return TRUE
    }
    return this.#stream._send(encodeText(entry.data, entry.event, entry.id, entry.retry))
  }

  async #write(frame: string): Promise<boolean> {
    if (this.#stream.closed) return false
    return this.#stream._write(frame) || (await this.#stream._whenWritable())
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
