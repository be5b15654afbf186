import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { waitFor } from './wait.js'

/** One thing an SSE parser reports, in stream order. */
export type SseItem =
  | { type: 'event'; event?: string | undefined; id?: string | undefined; data: string }
  | { type: 'comment'; text: string }
  | { type: 'retry'; ms: number }
  | { type: 'error'; message: string }

/** Everything parsed from a body, in order, with the events, comments and retries apart. */
export interface ParsedSse {
  items: SseItem[]
  events: EventSourceMessage[]
  comments: string[]
  retries: number[]
  errors: string[]
}

/** An incremental spec parser (eventsource-parser) that collects what it reads. */
export class SseCollector implements ParsedSse {
  readonly items: SseItem[] = []
  readonly events: EventSourceMessage[] = []
  readonly comments: string[] = []
  readonly retries: number[] = []
  readonly errors: string[] = []
  readonly #parser = createParser({
    onEvent: (ev) => {
      const copy: EventSourceMessage = { data: ev.data }
      if (ev.event !== undefined) copy.event = ev.event
      if (ev.id !== undefined) copy.id = ev.id
      this.events.push(copy)
      this.items.push({ type: 'event', ...copy })
    },
    onComment: (text) => {
      this.comments.push(text)
      this.items.push({ type: 'comment', text })
    },
    onRetry: (ms) => {
      this.retries.push(ms)
      this.items.push({ type: 'retry', ms })
    },
    onError: (error) => {
      this.errors.push(error.message)
      this.items.push({ type: 'error', message: error.message })
    },
  })

  feed(text: string): void {
    this.#parser.feed(text)
  }
}

/** Parses a complete SSE text with eventsource-parser. */
export function parseSse(text: string): ParsedSse {
  const collector = new SseCollector()
  collector.feed(text)
  return collector
}

/**
 * Reads an SSE body (a fetch `Response.body`, a Web `Response` made by the server) as it
 * arrives: keeps the raw text and the parsed items, and lets a test wait for what it
 * expects with a bounded timeout.
 */
export class SseReader extends SseCollector {
  /** Every byte read so far, decoded as UTF-8. */
  text = ''
  /** Bytes read so far. */
  bytes = 0
  /** True once the body ended (by the server) or failed. */
  done = false
  /** Set when reading failed (a reset connection, an errored stream). */
  error: unknown = undefined
  readonly finished: Promise<void>
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #decoder = new TextDecoder()

  constructor(body: ReadableStream<Uint8Array>) {
    super()
    this.#reader = body.getReader()
    this.finished = this.#pump()
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.#reader.read()
        if (done) break
        this.bytes += value.byteLength
        const chunk = this.#decoder.decode(value, { stream: true })
        this.text += chunk
        this.feed(chunk)
      }
      const rest = this.#decoder.decode()
      this.text += rest
      this.feed(rest)
    } catch (error) {
      this.error = error
    } finally {
      this.done = true
    }
  }

  /** Waits until at least `n` events were parsed; resolves to the events so far. */
  async waitForEvents(n: number, timeoutMs = 5000): Promise<EventSourceMessage[]> {
    await waitFor(() => this.events.length >= n || this.done, timeoutMs, `waitForEvents(${n})`)
    if (this.events.length < n) {
      throw new Error(
        `the body ended after ${this.events.length} of ${n} events: ${JSON.stringify(this.text.slice(0, 500))}`,
      )
    }
    return this.events
  }

  /** Waits until the raw text is at least `length` characters long. */
  async waitForText(length: number, timeoutMs = 5000): Promise<string> {
    await waitFor(
      () => this.text.length >= length || this.done,
      timeoutMs,
      `waitForText(${length})`,
    )
    return this.text
  }

  /** Waits for the end of the body; resolves to the whole text. */
  async readToEnd(timeoutMs = 5000): Promise<string> {
    await waitFor(() => this.done, timeoutMs, 'readToEnd')
    return this.text
  }

  /** Cancels the body: the client goes away. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {})
  }
}

/** A fetch to an SSE endpoint, with its body being read. */
export interface SseFetch {
  response: Response
  reader: SseReader
  /** Aborts the request (the client goes away) and waits for the reader to stop. */
  abort(): Promise<void>
}

/**
 * Fetches `url` with `Accept: text/event-stream` and starts reading the body. Resolves as
 * soon as the status and headers arrive, before any event.
 */
export async function fetchSse(url: string, init: RequestInit = {}): Promise<SseFetch> {
  const controller = new AbortController()
  const headers = new Headers(init.headers)
  if (!headers.has('accept')) headers.set('accept', 'text/event-stream')
  const response = await fetch(url, { ...init, headers, signal: controller.signal })
  if (response.body === null) throw new Error(`no body in the response to ${url}`)
  const reader = new SseReader(response.body)
  return {
    response,
    reader,
    async abort() {
      controller.abort()
      await reader.finished
    },
  }
}
