import type { Chunk } from '../encode.js'
import { resolveOptions, type StreamOptions } from '../options.js'
import { EventStream } from '../stream.js'
import type { Transport, TransportListener } from '../transport.js'

/**
 * A complete in-memory {@link Transport}: what a stream writes is kept as text, and the
 * test plays the client. With `highWaterMark`, written bytes count as buffered until the
 * test calls `read()`, so backpressure and slow clients can be driven step by step.
 */
export class MemoryTransport implements Transport {
  readonly connection: 'keep-alive' | undefined
  readonly highWaterMark: number
  /** Like the Node transport: headers can be sent at open, without body bytes. */
  readonly headersWaitForBody = false
  status: number | undefined
  headers: Record<string, string | readonly string[]> | undefined
  readonly chunks: Uint8Array[] = []
  /** How many times `open` was called (must be at most 1). */
  opens = 0
  ended = false
  aborted = false
  /** Cut off for falling behind (ended after what was buffered). */
  dropped = false
  #buffered = 0
  #listener: TransportListener | undefined
  readonly #decoder = new TextDecoder()
  #text = ''

  constructor(options: { httpVersionMajor?: number; highWaterMark?: number } = {}) {
    this.connection = (options.httpVersionMajor ?? 1) >= 2 ? undefined : 'keep-alive'
    this.highWaterMark = options.highWaterMark ?? Number.POSITIVE_INFINITY
  }

  get buffered(): number {
    return this.#buffered
  }

  /** Everything written, decoded as UTF-8. */
  get text(): string {
    return this.#text
  }

  /** True while a listener is attached (the stream still listens for drain and close). */
  get listening(): boolean {
    return this.#listener !== undefined
  }

  attach(listener: TransportListener): void {
    this.#listener = listener
  }

  open(status: number, headers: Record<string, string | readonly string[]>): void {
    this.opens++
    this.status = status
    this.headers = headers
  }

  write(written: Chunk): boolean {
    if (this.ended || this.aborted) throw new Error('MemoryTransport: write after end')
    if (this.status === undefined) throw new Error('MemoryTransport: write before open')
    // Text (a stream's own frame) is kept as its bytes, as a socket would carry them.
    const chunk = typeof written === 'string' ? new TextEncoder().encode(written) : written
    this.chunks.push(chunk)
    this.#text += this.#decoder.decode(chunk, { stream: true })
    if (this.highWaterMark === Number.POSITIVE_INFINITY) return true
    this.#buffered += chunk.byteLength
    return this.#buffered < this.highWaterMark
  }

  end(): void {
    this.#listener = undefined
    this.ended = true
  }

  detach(): void {
    this.#listener = undefined
  }

  abort(): void {
    this.#listener = undefined
    this.aborted = true
    this.#buffered = 0
  }

  drop(): void {
    this.#listener = undefined
    this.dropped = true
    this.ended = true
  }

  /** The client reads everything buffered: the stream is told it drained. */
  read(): void {
    const wasOver = this.#buffered >= this.highWaterMark
    this.#buffered = 0
    if (wasOver) this.#listener?.onDrain()
  }

  /** The client goes away. */
  disconnect(): void {
    this.#listener?.onClientClose()
  }
}

/**
 * A stream over a {@link MemoryTransport}, built the way the real transports build theirs:
 * options resolved (and validated) first, then the stream with its Last-Event-ID.
 */
export function memoryStream(
  options?: StreamOptions,
  init: { lastEventId?: string; context?: unknown; transport?: MemoryTransport } = {},
): { stream: EventStream; transport: MemoryTransport } {
  const transport = init.transport ?? new MemoryTransport()
  const stream = new EventStream(transport, resolveOptions(options), {
    lastEventId: init.lastEventId,
    context: init.context,
  })
  return { stream, transport }
}
