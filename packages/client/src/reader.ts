/**
 * Decoded text in, events out: splits lines itself (to bound them and to dispatch a CR-ended
 * event at once), keeps the last event id as the WHATWG rules say, and hands every other
 * line to eventsource-parser.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser'
import { SseClientError } from './errors.js'

/** One dispatched event: its type (`message` when the stream named none), data and id. */
export interface RawEvent {
  readonly event: string
  readonly data: string
  /** The last event ID string at dispatch. */
  readonly id: string
}

export interface ReaderSink {
  event(event: RawEvent): void
  retry(ms: number): void
  /** The last event ID string changed at a block without data (`id: 7` then a blank line). */
  id(id: string): void
}

const LF = 10
const CR = 13

function tooLarge(max: number): SseClientError {
  return new SseClientError(
    'ERR_SSE_EVENT_TOO_LARGE',
    `@ssekit/client: the server sent a line or an event longer than maxEventLength (${max} characters); the connection was failed. Raise maxEventLength if the server's events are that large.`,
  )
}

/** Value of a field line `name: value` / `name:value` / `name` (one leading space dropped). */
function fieldValue(line: string, nameLength: number): string {
  return line.charCodeAt(nameLength + 1) === 32
    ? line.slice(nameLength + 2)
    : line.slice(nameLength + 1)
}

export class StreamReader {
  readonly #max: number
  readonly #sink: ReaderSink
  readonly #parser: EventSourceParser
  /** The incomplete line: its pieces and their length. */
  #pieces: string[] = []
  #pending = 0
  /** Characters of data held for the event being read (the parser's data buffer). */
  #data = 0
  /** The last chunk ended in CR, already taken as a line end: an LF first is its CRLF's. */
  #skipLF = false
  /** WHATWG "last event ID buffer" (set by `id:`) and "last event ID string" (at a blank line). */
  #idBuffer: string
  #lastEventId: string
  #stopped = false

  constructor(max: number, sink: ReaderSink, lastEventId: string) {
    this.#max = max
    this.#sink = sink
    this.#idBuffer = lastEventId
    this.#lastEventId = lastEventId
    this.#parser = createParser({
      onEvent: (ev) =>
        sink.event({ event: ev.event ?? 'message', data: ev.data, id: this.#idBuffer }),
      onRetry: (ms) => sink.retry(ms),
      // Unknown fields and a non-digit `retry:` are ignored (WHATWG 9.2.6).
      onError: () => {},
      // Lines are fed whole, so the parser holds one event's data at most; the limit is
      // checked here first, this is a second guard.
      maxBufferSize: max === Number.POSITIVE_INFINITY ? undefined : max + 1,
    })
    // The first feed is where the parser strips a BOM read as Latin-1 bytes ("ï»¿"): a
    // TextDecoder has already stripped the real one, so let an empty feed take that turn.
    this.#parser.feed('')
  }

  get lastEventId(): string {
    return this.#lastEventId
  }

  /** Stops dispatching (the rest of the current chunk included). */
  stop(): void {
    this.#stopped = true
  }

  /** Reads decoded text. Throws `ERR_SSE_EVENT_TOO_LARGE`, or what the sink throws. */
  push(text: string): void {
    const length = text.length
    let start = 0
    if (this.#skipLF) {
      this.#skipLF = false
      if (text.charCodeAt(0) === LF) start = 1
    }
    // Next CR and LF from `start`, each searched again only once passed (no O(n²) on a chunk
    // of many lines).
    let cr = text.indexOf('\r', start)
    let lf = text.indexOf('\n', start)
    while (start < length && !this.#stopped) {
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start)
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start)
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf)
      if (end === -1) {
        const rest = start === 0 ? text : text.slice(start)
        this.#pending += rest.length
        if (this.#pending + this.#data > this.#max) throw tooLarge(this.#max)
        this.#pieces.push(rest)
        return
      }
      let line = text.slice(start, end)
      if (this.#pieces.length > 0) {
        this.#pieces.push(line)
        line = this.#pieces.join('')
        this.#pieces = []
        this.#pending = 0
      }
      if (line.length + this.#data > this.#max) throw tooLarge(this.#max)
      if (text.charCodeAt(end) !== CR) {
        start = end + 1
      } else if (end + 1 === length) {
        // A CR ends the line now (the event may be complete): an LF opening the next chunk
        // belongs to it.
        this.#skipLF = true
        start = length
      } else {
        start = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
      }
      this.#line(line)
    }
  }

  #line(line: string): void {
    if (line === '') {
      this.#data = 0
      this.#parser.feed('\n')
      // Dispatch sets the last event ID string, even for a block without data (WHATWG 9.2.6).
      if (this.#lastEventId !== this.#idBuffer) {
        this.#lastEventId = this.#idBuffer
        this.#sink.id(this.#idBuffer)
      }
      return
    }
    const c0 = line.charCodeAt(0)
    if (c0 === 105 /* i */ && line.charCodeAt(1) === 100 /* d */) {
      if (line.length === 2 || line.charCodeAt(2) === 58 /* : */) {
        const value = line.length === 2 ? '' : fieldValue(line, 2)
        // An id containing NULL is ignored (WHATWG 9.2.6).
        if (!value.includes('\0')) this.#idBuffer = value
        return
      }
    } else if (c0 === 100 /* d */ && line.startsWith('data')) {
      if (line.length === 4) this.#data += 1
      else if (line.charCodeAt(4) === 58) this.#data += fieldValue(line, 4).length + 1
      if (this.#data > this.#max) throw tooLarge(this.#max)
    } else if (c0 === 58 /* : */) {
      return // a comment: nothing to keep
    }
    this.#parser.feed(`${line}\n`)
  }
}
