import { type Chunk, toBytes } from './encode.js'
import { reportUnhandled } from './errors.js'
import type { AnyEvents, EventMap } from './events.js'
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
 *
 * Chunks go into the body's own queue while it is under its high-water mark: those are
 * accepted, and the client gets them even if it is later cut off. Beyond it they wait in a
 * backlog of ours, handed over as the client reads, which a cut-off can discard (the body's
 * queue cannot be emptied without erroring it, which runtimes print as a failure).
 */
export class WebTransport implements Transport {
  /** The runtime owns `Connection` (Bun, Deno and Workers drop it; @hono/node-server would let it override a client's `close`). */
  readonly connection = undefined
  /** A runtime may hold a streamed Response's headers until its first chunk (Bun does). */
  readonly headersWaitForBody = true
  readonly highWaterMark = HIGH_WATER_MARK
  readonly response: Promise<Response>
  #resolve!: (response: Response) => void
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined
  #listener: TransportListener | undefined
  #signal: AbortSignal | undefined
  /** Chunks written beyond the high-water mark, oldest first from #backlogHead. */
  #backlog: (Uint8Array | undefined)[] = []
  #backlogHead = 0
  #backlogBytes = 0
  /** end() was called: close the body once the backlog is handed over. */
  #ending = false
  #closed = false

  constructor(signal?: AbortSignal) {
    this.response = new Promise((resolve) => {
      this.#resolve = resolve
    })
    this.#signal = signal
  }

  get buffered(): number {
    const desired = this.#controller?.desiredSize ?? HIGH_WATER_MARK
    return HIGH_WATER_MARK - desired + this.#backlogBytes
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
          this.#pull()
        },
        cancel: () => {
          this.#discard()
          this.#onClose()
        },
      },
      { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    )
    this.#resolve(new Response(body, { status, headers: toWebHeaders(headers) }))
  }

  write(chunk: Chunk): boolean {
    const controller = this.#controller
    if (controller === undefined || this.#closed) return false
    const bytes = typeof chunk === 'string' ? toBytes(chunk) : chunk
    if (this.#backlogBytes === 0 && (controller.desiredSize ?? 0) > 0) {
      try {
        controller.enqueue(bytes)
      } catch {
        // The runtime has cancelled the body (a client gone, a request the runtime ended):
        // the stream learns it now rather than stay counted as open.
        this.#closed = true
        queueMicrotask(this.#onClose)
        return false
      }
      return (controller.desiredSize ?? 0) > 0
    }
    this.#backlog.push(bytes)
    this.#backlogBytes += bytes.byteLength
    return false
  }

  end(): void {
    this.detach()
    if (this.#backlogBytes === 0) this.#close()
    else this.#ending = true
  }

  abort(): void {
    this.detach()
    if (this.#controller === undefined) {
      // Dropped before it opened: answer something rather than leave the request hanging.
      this.#resolve(new Response(null, { status: 503 }))
      return
    }
    // The runtime cancels the body of a gone client itself; an error here would only be
    // printed by it (@hono/node-server prints every body error) for an ordinary leave.
    this.#discard()
    this.#close()
  }

  drop(): void {
    // What the body already queued was accepted: it goes out, then the end. The backlog
    // goes: the client resumes it through Last-Event-ID.
    this.abort()
  }

  detach(): void {
    this.#listener = undefined
    this.#signal?.removeEventListener('abort', this.#onClose)
  }

  /** The client read: hand it the backlog, up to the high-water mark. */
  #pull(): void {
    const controller = this.#controller!
    while (this.#backlogBytes > 0 && (controller.desiredSize ?? 0) > 0) {
      const chunk = this.#backlog[this.#backlogHead]!
      this.#backlog[this.#backlogHead++] = undefined
      this.#backlogBytes -= chunk.byteLength
      controller.enqueue(chunk)
    }
    if (this.#backlogBytes > 0) return
    this.#backlog = []
    this.#backlogHead = 0
    if (this.#ending) this.#close()
    else this.#listener?.onDrain()
  }

  #discard(): void {
    this.#backlog = []
    this.#backlogHead = 0
    this.#backlogBytes = 0
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#controller?.close()
    } catch {
      // Already closed, or cancelled by the reader going away.
    }
  }

  #onClose = (): void => {
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
  init: OpenInit & { server?: unknown },
): Promise<Response> {
  const existing = opened.get(request)
  if (existing !== undefined) {
    // Asked again for the same request: the same stream, and the same response.
    runHandler(existing.stream, handler, init)
    return existing.response
  }
  liftIdleTimeout(init.server, request)
  const transport = new WebTransport(request.signal)
  const stream = new EventStream(transport, init.options, {
    lastEventId: requestLastEventId(
      request.headers.get('last-event-id'),
      request.url,
      init.options.lastEventIdQuery,
    ),
    context: init.context,
    group: init.group,
    warn: init.warn,
  })
  if (init.rejectEarly !== true) {
    opened.set(request, { stream, response: transport.response })
    runHandler(stream, handler, init)
    return transport.response
  }
  let reject!: (error: unknown) => void
  const response = new Promise<Response>((resolve, fail) => {
    transport.response.then(resolve)
    reject = fail
  })
  // Known before the handler runs: a handler that opens the stream again gets this one.
  opened.set(request, { stream, response })
  runHandler(stream, handler, { ...init, onEarlyError: reject })
  return response
}

/** The stream opened for each request, and its response: opening again gives the same. */
const opened = new WeakMap<Request, { stream: EventStream; response: Promise<Response> }>()

/**
 * Bun closes a request that is idle for `idleTimeout` (10 s by default), shorter than the
 * default heartbeat: lift it for this request, whose heartbeat keeps it alive instead.
 * `server` is Bun's `Server` (Hono hands it over as `c.env`); anything else is left alone.
 */
export function liftIdleTimeout(server: unknown, request: Request): void {
  const bun = server as {
    timeout?: unknown
    upgrade?: unknown
    requestIP?: unknown
  } | null
  if (
    typeof bun?.timeout === 'function' &&
    typeof bun.upgrade === 'function' &&
    typeof bun.requestIP === 'function'
  ) {
    ;(bun.timeout as (request: Request, seconds: number) => void)(request, 0)
  }
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
export function createEventStreamResponse<M extends EventMap = AnyEvents>(
  request: Request,
  handler: (stream: EventStream<M>) => void | Promise<void>,
  options?: StreamOptions<Request, M>,
): Promise<Response> {
  return openWebStream(request, handler as (stream: EventStream) => void | Promise<void>, {
    options: resolveOptions(options as StreamOptions<Request>) as ResolvedOptions,
    context: request,
  })
}
