import { type Chunk, toBytes } from './encode.js'
import { reportUnhandled } from './errors.js'
import { toWebHeaders } from './headers.js'
import { requestLastEventId } from './last-event-id.js'
import { type ResolvedOptions, resolveOptions, type StreamOptions } from './options.js'
import { EventStream } from './stream.js'
import type { OpenInit, Transport, TransportListener } from './transport.js'

/** Bytes a Web stream queues before `send` starts waiting for the client to read. */
const HIGH_WATER_MARK = 64 * 1024

/**
 * Feeds a stream into the body of a Web `Response` (Hono, Bun, Deno, Workers). The
 * response is made when the stream opens; `response` resolves to it.
 */
export class WebTransport implements Transport {
  /** The runtime owns `Connection` (Bun, Deno and Workers drop it; @hono/node-server would let it override a client's `close`). */
  readonly connection = undefined
  /** A runtime may hold a streamed Response's headers until its first chunk (Bun does). */
  readonly headersWaitForBody = true
  readonly response: Promise<Response>
  #resolve!: (response: Response) => void
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined
  #listener: TransportListener | undefined
  #signal: AbortSignal | undefined
  #clientGone = false

  constructor(signal?: AbortSignal) {
    this.response = new Promise((resolve) => {
      this.#resolve = resolve
    })
    this.#signal = signal
  }

  get buffered(): number {
    const desired = this.#controller?.desiredSize ?? HIGH_WATER_MARK
    return HIGH_WATER_MARK - desired
  }

  attach(listener: TransportListener): void {
    this.#listener = listener
    if (this.#signal?.aborted === true) queueMicrotask(this.#onClose)
    else this.#signal?.addEventListener('abort', this.#onClose)
  }

  open(status: number, headers: Record<string, string | readonly string[]>): void {
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller
        },
        pull: () => {
          this.#listener?.onDrain()
        },
        cancel: () => {
          this.#onClose()
        },
      },
      { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    )
    this.#resolve(new Response(body, { status, headers: toWebHeaders(headers) }))
  }

  write(chunk: Chunk): boolean {
    const controller = this.#controller
    if (controller === undefined) return false
    controller.enqueue(typeof chunk === 'string' ? toBytes(chunk) : chunk)
    return (controller.desiredSize ?? 0) > 0
  }

  end(): void {
    this.detach()
    try {
      this.#controller?.close()
    } catch {
      // Already closed or errored by the reader going away.
    }
  }

  abort(): void {
    this.detach()
    if (this.#controller === undefined) {
      // Dropped before it opened: answer something rather than leave the request hanging.
      this.#resolve(new Response(null, { status: 503 }))
      return
    }
    try {
      if (this.#clientGone) {
        // The runtime cancels the body of a gone client itself; an error here would only be
        // logged by it (@hono/node-server prints every body error) for an ordinary leave.
        this.#controller.close()
      } else {
        // A client that stopped reading: error() discards what is queued, releasing now the
        // memory it held.
        this.#controller.error(new Error('@ssekit/core: stream aborted'))
      }
    } catch {
      // Already closed or cancelled.
    }
  }

  detach(): void {
    this.#listener = undefined
    this.#signal?.removeEventListener('abort', this.#onClose)
  }

  #onClose = (): void => {
    this.#clientGone = true
    const listener = this.#listener
    this.detach()
    listener?.onClientClose()
  }
}

/**
 * For adapters: opens a stream whose body is a Web `Response`, runs `handler` with it, and
 * resolves the response once the stream opens (or is refused).
 */
export function openWebStream(
  request: Request,
  handler: (stream: EventStream) => void | Promise<void>,
  init: OpenInit,
): Promise<Response> {
  const transport = new WebTransport(request.signal)
  const stream = new EventStream(transport, init.options, {
    lastEventId: requestLastEventId(
      request.headers.get('last-event-id'),
      request.url,
      init.options.lastEventIdQuery,
    ),
    context: init.context,
    group: init.group,
  })
  if (init.rejectEarly !== true) {
    runHandler(stream, handler, init)
    return transport.response
  }
  return new Promise((resolve, reject) => {
    transport.response.then(resolve)
    runHandler(stream, handler, { ...init, onEarlyError: reject })
  })
}

/**
 * Runs a stream handler. A throw or rejection closes the stream and is reported to
 * `options.onError`, else to `onError` (the framework's logger), else as a process
 * warning; never left unhandled. When the stream has not opened yet and `onEarlyError` is
 * given, the stream is discarded and the error handed to it instead, so that the
 * framework's own error handling answers the request.
 */
export function runHandler(
  stream: EventStream,
  handler: (stream: EventStream) => void | Promise<void>,
  init: {
    options: ResolvedOptions
    onError?: ((error: unknown) => void) | undefined
    onEarlyError?: ((error: unknown) => void) | undefined
  },
): void {
  const fail = (error: unknown) => {
    if (stream._pending && init.onEarlyError !== undefined) {
      stream._discard()
      init.onEarlyError(error)
      return
    }
    stream._fail()
    if (init.options.onError !== undefined) init.options.onError(error, stream)
    else if (init.onError !== undefined) init.onError(error)
    else reportUnhandled(error)
  }
  try {
    const result = handler(stream)
    if (result !== undefined && typeof result.then === 'function') result.then(undefined, fail)
  } catch (error) {
    fail(error)
  }
}

/**
 * Answers a Web `Request` with an event stream: runs `handler(stream)` and returns the
 * `Response` (status 200 and headers as soon as the stream opens). Runs on Node, Bun,
 * Deno and Workers. `authorize`, if given, receives `request`.
 *
 * @example
 * Bun.serve({ fetch: (request) => createEventStreamResponse(request, async (stream) => {
 *   for await (const token of llm(prompt)) await stream.send(token)
 *   stream.close()
 * }) })
 */
export function createEventStreamResponse(
  request: Request,
  handler: (stream: EventStream) => void | Promise<void>,
  options?: StreamOptions<Request>,
): Promise<Response> {
  return openWebStream(request, handler, {
    options: resolveOptions(options) as ResolvedOptions,
    context: request,
  })
}
