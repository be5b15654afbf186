import type { Chunk } from './encode.js'
import type { ResolvedOptions } from './options.js'
import type { StreamGroup } from './registry.js'

/** What a transport tells the stream that owns it. */
export interface TransportListener {
  /** The transport's buffer fell back below its high-water mark. */
  onDrain(): void
  /** The client went away (or the connection failed). */
  onClientClose(): void
}

/**
 * The small interface between a stream and a connection. One implementation writes to a
 * Node `ServerResponse`, the other feeds the body of a Web `Response`.
 */
export interface Transport {
  /**
   * The `Connection` header to send: `keep-alive` on HTTP/1.x, `close` when the client
   * asked to close, `undefined` where it is forbidden (HTTP/2) or the runtime owns it (Web).
   */
  readonly connection: 'keep-alive' | 'close' | undefined
  /** Bytes accepted but not yet handed to the client. */
  readonly buffered: number
  /** Bytes buffered beyond which `write` returns false (and `send` waits for drain). */
  readonly highWaterMark: number
  /**
   * True when the headers only leave with the first body bytes (a Web `Response` on Bun,
   * for one): the stream then opens with a comment, so that the client sees the headers
   * before the first event.
   */
  readonly headersWaitForBody: boolean
  /** Starts listening for drain and client close. */
  attach(listener: TransportListener): void
  /** Sends the status line and headers at once. Called exactly once. */
  open(status: number, headers: Record<string, string | readonly string[]>): void
  /**
   * Writes a frame, as text (one stream's own) or bytes (a broadcast's, shared by every
   * subscriber; never modify them). `length`, when known, is its UTF-8 byte length; `lone`
   * says it is likely the only write of its tick (a heartbeat), so that a transport which
   * coalesces a tick's writes may send it at once. Returns false when over the high-water
   * mark.
   */
  write(chunk: Chunk, length?: number, lone?: boolean): boolean
  /** Ends the response after what is buffered, and stops listening. */
  end(): void
  /** The client is gone: drops the connection and whatever is buffered, stops listening. */
  abort(): void
  /**
   * The client fell too far behind: ends the response after what it was already promised
   * (the head, and every chunk accepted before the backlog began), discards the backlog
   * where the transport can tell them apart, and stops listening. A client that still
   * takes nothing is disconnected after a grace period, so that memory is freed. Quiet: a
   * deliberate cut-off is not an error for the runtime to print.
   */
  drop(): void
  /** Stops listening and leaves the connection to its owner (nothing was written). */
  detach(): void
}

/** How an adapter opens a stream: resolved options and where it belongs. */
export interface OpenInit {
  /** Options resolved once, at registration. */
  options: ResolvedOptions
  /** What `authorize` receives: the framework's request or context. */
  context: unknown
  /** The adapter's group, closed with its app. */
  group?: StreamGroup | undefined
  /** Where handler errors go when the user gave no `onError` (the framework's logger). */
  onError?: ((error: unknown) => void) | undefined
  /**
   * Where warnings go when the user gave no `onError` (a slow client cut off): the
   * framework's logger, already rate-limited (see `rateLimited`).
   * @default a rate-limited process warning
   */
  warn?: ((error: Error) => void) | undefined
  /**
   * A handler error before the stream opens rejects the returned `Response` promise, so
   * that the framework's error handling answers (Hono's `app.onError`), instead of a 500
   * written here.
   */
  rejectEarly?: boolean | undefined
  /** Called when the response starts: its status line and headers are written. */
  onStart?: (() => void) | undefined
}
