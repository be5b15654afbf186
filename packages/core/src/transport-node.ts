import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { chunkedSocketOf, type RawSocket, writeChunk } from './chunked-socket.js'
import { type Chunk, chunkLength } from './encode.js'
import { SseError } from './errors.js'
import type { AnyEvents, EventMap } from './events.js'
import { requestLastEventId } from './last-event-id.js'
import { type ResolvedOptions, resolveOptions, type StreamOptions } from './options.js'
import { EventStream } from './stream.js'
import type { OpenInit, Transport, TransportListener } from './transport.js'

// Type-only imports above: this file loads nothing from `node:` at run time.

/** A Node request: node:http, or the HTTP/2 compatibility API. */
export type NodeRequest = IncomingMessage | Http2ServerRequest
/** A Node response: node:http `ServerResponse`, or the HTTP/2 compatibility API. */
export type NodeResponse = ServerResponse | Http2ServerResponse

type AnyResponse = {
  writeHead(status: number, headers: Record<string, string | readonly string[]>): unknown
  flushHeaders?(): void
  write(chunk: Uint8Array | string): boolean
  end(): unknown
  destroy(error?: Error): unknown
  on(event: string, fn: () => void): unknown
  once(event: string, fn: () => void): unknown
  removeListener(event: string, fn: () => void): unknown
  readonly writableLength: number
  readonly writableHighWaterMark?: number
  readonly writableFinished?: boolean
  readonly socket?: { end(): unknown } | null
  readonly headersSent: boolean
  readonly writableEnded: boolean
  readonly destroyed?: boolean
  /** node:http: false when the client asked to close (Connection: close, or HTTP/1.0). */
  readonly shouldKeepAlive?: boolean
}

/** How long a client cut off for falling behind may take to read what it was sent. */
const DROP_GRACE_MS = 10_000

/**
 * The transport of each response (and through it the stream opened there: opening again
 * gives the same stream). One listener function serves every response, rather than two
 * closures per stream: it finds the transport here.
 */
const opened = new WeakMap<object, NodeTransport>()

function onResponseClose(this: object): void {
  opened.get(this)?._closed()
}

function onResponseDrain(this: object): void {
  opened.get(this)?._drained()
}

function onSocketDrain(this: { _httpMessage?: object | null }): void {
  const res = this._httpMessage
  if (res != null) opened.get(res)?._drained()
}

/** The stream already opened on `res`, if any. */
export function streamOf(res: NodeResponse): EventStream | undefined {
  return opened.get(res)?.stream
}

/**
 * Throws `ERR_SSE_HEADERS_SENT` when something else has started answering on `res` (or
 * `started` says so): no stream can be opened on it. Adapters call it before they touch the
 * response, so that every misuse gets the same clear error.
 */
export function checkResponseFree(res: NodeResponse, started = false): void {
  const r = res as unknown as AnyResponse
  if (started || r.headersSent || r.writableEnded) {
    throw new SseError(
      'ERR_SSE_HEADERS_SENT',
      '@ssekit/core: the response has already started; open the event stream before anything else writes to it.',
    )
  }
}

/** Writes a stream to a Node `ServerResponse` (node:http, Express, Fastify, HTTP/2 compat). */
export class NodeTransport implements Transport {
  readonly connection: 'keep-alive' | 'close' | undefined
  /** `flushHeaders()` sends them at open. */
  readonly headersWaitForBody = false
  readonly #res: AnyResponse
  #listener: TransportListener | undefined
  /** Called once the head is written, then let go (it may hold the framework's context). */
  #onStart: (() => void) | undefined
  /** Someone else answered before the stream opened: the response is theirs, not ours. */
  #taken = false
  /** Set when the body is framed here and written to the socket (see chunked-socket.ts). */
  #socket: RawSocket | undefined
  /** The stream this transport was opened for (kept after detach, for `streamOf`). */
  stream: EventStream | undefined
  /** A write to `#socket` returned false: listening for its 'drain'. */
  #awaitingDrain = false

  constructor(req: NodeRequest, res: NodeResponse, onStart?: () => void) {
    this.#res = res as unknown as AnyResponse
    this.#onStart = onStart
    // HTTP/2 forbids Connection (RFC 9113 §8.2.2). A client that asked to close gets
    // `close` (RFC 9112 §9.6): an explicit keep-alive would make node:http keep it open.
    this.connection =
      req.httpVersionMajor >= 2
        ? undefined
        : this.#res.shouldKeepAlive === false
          ? 'close'
          : 'keep-alive'
    checkResponseFree(res)
  }

  get buffered(): number {
    return this.#socket?.writableLength ?? this.#res.writableLength
  }

  get highWaterMark(): number {
    return this.#res.writableHighWaterMark ?? 16 * 1024
  }

  attach(listener: TransportListener): void {
    this.#listener = listener
    opened.set(this.#res, this)
    this.#res.on('close', onResponseClose)
  }

  open(status: number, headers: Record<string, string | readonly string[]>): void {
    const res = this.#res
    if (res.headersSent) {
      // A handler threw before the stream opened and the framework's error handler answered
      // (Express): leave that response alone, and end this stream as if its client had left.
      this.#taken = true
      queueMicrotask(() => this._closed())
      return
    }
    res.writeHead(status, headers)
    // node:http holds headers until the first body write; the client must see them now.
    res.flushHeaders?.()
    this.#socket = chunkedSocketOf(res)
    // After writeHead: compression middleware queues 'drain' listeners until then. Written
    // to directly, the socket drains (the response would not say so): listened to only
    // while a write waits for it, so that an idle stream holds nothing on its socket.
    if (this.#socket === undefined) res.on('drain', onResponseDrain)
    const onStart = this.#onStart
    this.#onStart = undefined
    onStart?.()
  }

  write(chunk: Chunk, length?: number, lone = false): boolean {
    if (this.#taken) return true
    if (this.#res.writableEnded) {
      // The application ended the response itself: nothing may follow its end (on a kept-
      // alive socket it would be read as the next response). The stream ends with it.
      this.#taken = true
      queueMicrotask(() => this._closed())
      return false
    }
    const socket = this.#socket
    // Text goes as is: Node encodes it in C++ while writing, with no buffer of ours.
    if (socket === undefined) return this.#res.write(chunk)
    const bytes = length ?? chunkLength(chunk)
    // A chunk of size 0 would end the body.
    if (bytes === 0) return true
    if (writeChunk(socket, chunk, bytes, lone)) return true
    if (!this.#awaitingDrain) {
      this.#awaitingDrain = true
      socket.on('drain', onSocketDrain)
    }
    return false
  }

  end(): void {
    this.detach()
    if (!this.#taken) this.#res.end()
  }

  abort(): void {
    this.detach()
    if (!this.#taken && this.#res.destroyed !== true) this.#res.destroy()
  }

  drop(): void {
    this.detach()
    const res = this.#res
    if (this.#taken || res.destroyed === true) return
    // Node cannot take back what is buffered: end after it (the client resumes from the
    // last event it read). On HTTP/1 the connection goes too, once flushed, rather than wait
    // for another request from a client that stopped reading.
    const socket = this.connection === undefined ? undefined : res.socket
    res.end()
    if (res.writableFinished === true) {
      socket?.end()
      return
    }
    // A client that still reads nothing would hold the buffer: free it after a grace period.
    const timer = setTimeout(() => res.destroy(), DROP_GRACE_MS)
    timer.unref?.()
    res.once('finish', () => {
      clearTimeout(timer)
      socket?.end()
    })
    res.once('close', () => clearTimeout(timer))
  }

  detach(): void {
    this.#listener = undefined
    this.#res.removeListener('close', onResponseClose)
    this.#res.removeListener('drain', onResponseDrain)
    // The socket outlives the response (keep-alive): leave nothing on it.
    this.#stopAwaitingDrain()
  }

  #stopAwaitingDrain(): void {
    if (!this.#awaitingDrain) return
    this.#awaitingDrain = false
    this.#socket?.removeListener('drain', onSocketDrain)
  }

  /** @internal The response closed. */
  _closed(): void {
    const listener = this.#listener
    this.detach()
    listener?.onClientClose()
  }

  /** @internal The response (or its socket) drained. */
  _drained(): void {
    this.#stopAwaitingDrain()
    // Node 24 emits 'drain' when a gone client's socket is torn down (nothing left to write,
    // nothing writable): that is not the client taking more. 'close' follows.
    const socket = (this.#res as { socket?: { writable?: boolean } | null }).socket
    if (this.#res.destroyed === true || socket?.writable === false) return
    this.#listener?.onDrain()
  }
}

/**
 * For adapters: opens a stream on a Node response with options resolved at registration.
 * Asked again for the same response, gives the stream it opened the first time.
 */
export function openNodeStream(req: NodeRequest, res: NodeResponse, init: OpenInit): EventStream {
  const existing = opened.get(res)?.stream
  if (existing !== undefined) return existing
  const transport = new NodeTransport(req, res, init.onStart)
  const stream = new EventStream(transport, init.options, {
    lastEventId: requestLastEventId(
      req.headers['last-event-id'],
      req.url,
      init.options.lastEventIdQuery,
    ),
    context: init.context,
    group: init.group,
    warn: init.warn,
  })
  transport.stream = stream
  return stream
}

/**
 * Opens an event stream on a plain `node:http` (or `node:http2` compat) response.
 * `authorize`, if given, receives `req`.
 *
 * @example
 * http.createServer((req, res) => {
 *   const stream = createEventStream(req, res, { heartbeat: 10_000 })
 *   stream.send({ event: 'hello', data: { at: Date.now() } })
 * })
 */
export function createEventStream<M extends EventMap = AnyEvents>(
  req: NodeRequest,
  res: NodeResponse,
  options?: StreamOptions<NodeRequest, M>,
): EventStream<M> {
  return openNodeStream(req, res, {
    options: resolveOptions(options as StreamOptions<NodeRequest>) as ResolvedOptions,
    context: req,
  }) as unknown as EventStream<M>
}
