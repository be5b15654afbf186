/**
 * Clients for the channel tests: a plain `node:http` SSE client that can be opened a
 * thousand times at once, and a raw socket that sends a GET and then never reads.
 */
import http from 'node:http'
import net from 'node:net'
import type { EventSourceMessage } from 'eventsource-parser'
import { rawGet, SseCollector, splitResponse, waitFor } from '../../../core/src/test-utils/index.js'

/** No pooling and no limit: every client is its own connection, closed with its response. */
export const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })

/** One SSE response read with a spec parser as it arrives. */
export class SseHttpClient extends SseCollector {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  /** Body text so far. */
  text = ''
  /** Body bytes so far. */
  bytes = 0
  /** True once the body ended or the connection closed. */
  ended = false
  readonly #req: http.ClientRequest
  readonly #decoder = new TextDecoder()

  constructor(req: http.ClientRequest, res: http.IncomingMessage) {
    super()
    this.#req = req
    this.status = res.statusCode ?? 0
    this.headers = res.headers
    req.on('error', () => {})
    res.on('error', () => {})
    res.on('data', (chunk: Buffer) => {
      this.bytes += chunk.byteLength
      const text = this.#decoder.decode(chunk, { stream: true })
      this.text += text
      this.feed(text)
    })
    res.once('close', () => {
      this.ended = true
    })
  }

  /** Waits until at least `n` events were parsed. */
  async waitForEvents(n: number, timeoutMs = 5000): Promise<EventSourceMessage[]> {
    await waitFor(
      () => this.events.length >= n || this.ended,
      timeoutMs,
      `waitForEvents(${n}), got ${this.events.length}`,
    )
    if (this.events.length < n) {
      throw new Error(
        `the body ended after ${this.events.length} of ${n} events: ${this.text.slice(0, 500)}`,
      )
    }
    return this.events
  }

  /** Waits until the server ends the response. */
  async waitForEnd(timeoutMs = 5000): Promise<string> {
    await waitFor(() => this.ended, timeoutMs, 'waitForEnd')
    return this.text
  }

  /** The client goes away. */
  close(): void {
    this.#req.destroy()
  }
}

/** GETs `url` as an SSE client; resolves once the status and headers arrive. */
export function openSse(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<SseHttpClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { accept: 'text/event-stream', ...headers } })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no response from ${url} within ${timeoutMs} ms`))
    }, timeoutMs)
    req.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.once('response', (res) => {
      clearTimeout(timer)
      resolve(new SseHttpClient(req, res))
    })
  })
}

/** Opens `count` clients, `batch` at a time (so that the listen backlog never overflows). */
export async function openMany(
  url: string,
  count: number,
  batch = 100,
  onOpen?: (client: SseHttpClient) => void,
): Promise<SseHttpClient[]> {
  const clients: SseHttpClient[] = []
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, () => openSse(url)),
    )
    for (const client of opened) {
      clients.push(client)
      onOpen?.(client)
    }
  }
  return clients
}

/**
 * A client that sends a GET and never reads: paused before it connects, so that not even
 * Node's first read happens and the kernel buffers fill up.
 */
export class StalledClient {
  readonly socket: net.Socket
  readonly #chunks: Buffer[] = []
  closed = false

  private constructor(socket: net.Socket) {
    this.socket = socket
  }

  static async open(url: string, path: string, headerLines: string[] = []): Promise<StalledClient> {
    const { port } = new URL(url)
    const socket = net.connect(Number(port), '127.0.0.1')
    socket.pause()
    const client = new StalledClient(socket)
    socket.on('error', () => {})
    socket.once('close', () => {
      client.closed = true
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.write(rawGet(path, headerLines))
    return client
  }

  /** Starts reading at last; resolves to every byte once the connection is over. */
  async readToEnd(timeoutMs = 10_000): Promise<Buffer> {
    this.socket.on('data', (chunk: Buffer) => this.#chunks.push(chunk))
    this.socket.resume()
    await waitFor(() => this.closed, timeoutMs, 'StalledClient.readToEnd')
    return Buffer.concat(this.#chunks)
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** The complete events in a raw HTTP/1.1 response that may have been cut anywhere. */
export function eventsInRawResponse(bytes: Buffer): { head: string; events: EventSourceMessage[] } {
  const { head, body } = splitResponse(bytes)
  const collector = new SseCollector()
  // A cut inside a multi-byte character or a frame leaves an incomplete tail: the parser
  // dispatches only events that ended with their blank line.
  collector.feed(new TextDecoder().decode(body))
  return { head, events: collector.events }
}
