import { checkRetry, type RetryOption } from './options.js'

/** What a group needs of a stream to shut it down. */
export interface Closable {
  /** @internal Writes a jittered `retry:` hint and ends the stream. */
  _shutdown(retry: RetryOption): void
}

/** Reconnection delay given to clients closed at shutdown, unless told otherwise. */
export const SHUTDOWN_RETRY: RetryOption = Object.freeze({ ms: 1000, jitter: 9000 })

/**
 * A set of live streams (opening or open) that can be closed together. Every stream is in
 * the process-wide group; adapters keep one more per app so that closing one app leaves
 * another's streams alone.
 */
export class StreamGroup {
  readonly #streams = new Set<Closable>()

  /** Streams in the group right now. */
  get size(): number {
    return this.#streams.size
  }

  /** @internal */
  _add(stream: Closable): void {
    this.#streams.add(stream)
  }

  /** @internal */
  _delete(stream: Closable): void {
    this.#streams.delete(stream)
  }

  /**
   * Ends every stream in the group, each with a `retry:` hint picked at random within
   * `retry` so that clients come back spread out rather than all at once.
   */
  close(options: { retry?: RetryOption } = {}): void {
    const retry = options.retry === undefined ? SHUTDOWN_RETRY : checkRetry('retry', options.retry)
    for (const stream of [...this.#streams]) stream._shutdown(retry)
  }
}

/** Every live stream in this process. */
export const allStreams = new StreamGroup()

/**
 * Ends every open stream in this process, for a graceful shutdown: each client gets a
 * `retry:` hint picked within `retry` (default 1 s plus up to 9 s of jitter), so that the
 * reconnects are spread out. Call it when the server starts closing, for example
 * `server.close(); closeAllStreams()`; the Fastify adapter does it on `app.close()`.
 */
export function closeAllStreams(options?: { retry?: RetryOption }): void {
  allStreams.close(options)
}
