import { describe, SseTypeError } from './errors.js'
import { likelyTypo } from './events.js'

/**
 * One Server-Sent Event. `data` is sent as is when it is a string and through the
 * serializer (default `JSON.stringify`) otherwise.
 */
export interface SseEvent<T = unknown> {
  data: T
  /** Event type; the client dispatches it to `addEventListener(event)` instead of `onmessage`. */
  event?: string
  /**
   * Sets the client's Last-Event-ID: a string, or a finite number or a bigint (a database
   * key, a counter) written as its text. `''` is meaningful: it resets it.
   */
  id?: string | number | bigint
  /** Reconnection delay in milliseconds the client should use from now on. */
  retry?: number
}

/** Turns a non-string `data` value into the text of its `data:` lines. */
export type Serializer = (data: unknown) => string

const EVENT_KEYS = new Set(['data', 'event', 'id', 'retry'])
const LINE_BREAK = /\r\n|\r|\n/

/**
 * Tells an `SseEvent` from a bare payload: a plain object that has an own `data` key and
 * no key other than `data`, `event`, `id`, `retry`. To send a payload that looks like an
 * event, wrap it: `send({ data: payload })`.
 */
export function isSseEvent(value: unknown): value is SseEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  if (!Object.hasOwn(value, 'data')) return false
  for (const key in value) {
    if (key !== 'data' && key !== 'event' && key !== 'id' && key !== 'retry') return false
  }
  return true
}

/**
 * The event `send`/`publish` were given: an {@link SseEvent}, or a bare payload wrapped as
 * `{ data }`. An object with `data` and a key that looks like a misspelt field (`evnt`,
 * `Event`, `ID`) throws: it would otherwise go out whole, as data.
 */
export function toEvent(input: unknown): SseEvent {
  if (isSseEvent(input)) return input
  if (typeof input === 'object' && input !== null && Object.hasOwn(input, 'data')) {
    for (const key in input) {
      if (EVENT_KEYS.has(key)) continue
      const meant = likelyTypo(key)
      if (meant !== undefined) {
        throw new SseTypeError(
          'ERR_SSE_INVALID_FIELD',
          `@ssekit/core: event field "${key.slice(0, 40)}" is not one of data, event, id, retry (did you mean "${meant}"?); to send an object that has a "data" key as the payload, wrap it: send({ data: payload }).`,
        )
      }
    }
  }
  return { data: input }
}

/** Returns the text that goes into `data:` lines: strings as is, anything else serialized. */
export function serializeData(data: unknown, serializer: Serializer = JSON.stringify): string {
  if (typeof data === 'string') return data
  let text: unknown
  try {
    text = data === undefined ? undefined : serializer(data)
  } catch (cause) {
    // A circular object or a BigInt: report it as the field it is, like any other.
    throw new SseTypeError(
      'ERR_SSE_INVALID_FIELD',
      `@ssekit/core: event "data" of type ${typeof data} cannot be serialized (the serializer threw); send a string, or a value the serializer turns into a string.`,
      { cause },
    )
  }
  if (typeof text !== 'string') {
    throw new SseTypeError(
      'ERR_SSE_INVALID_FIELD',
      `@ssekit/core: event "data" of type ${data === undefined ? 'undefined' : typeof data} cannot be serialized (the serializer returned ${describe(text)}); send a string, or a value the serializer turns into a string.`,
    )
  }
  return text
}

let lastGoodEvent: string | undefined
let lastGoodId: string | undefined

/**
 * Validates `event`, `id` and `retry`; throws a `TypeError` that names the field. Returns
 * the id as the text that goes on the wire (a number written as its text).
 */
export function checkFields(event: unknown, id: unknown, retry: unknown): string | undefined {
  // A stream sends the same event name again and again: the last one found good is not
  // checked again (a string cannot change).
  if (event !== undefined && event !== lastGoodEvent) {
    if (typeof event !== 'string') throw fieldError('event', 'must be a string', event)
    if (/[\r\n]/.test(event)) throw fieldError('event', 'must not contain CR or LF', event)
    lastGoodEvent = event
  }
  let text: string | undefined
  if (id !== undefined) {
    if (typeof id === 'number') {
      if (!Number.isFinite(id)) throw fieldError('id', 'must be a string or a finite number', id)
      text = String(id)
    } else if (typeof id === 'bigint') {
      text = String(id)
    } else if (typeof id === 'string') {
      // A NUL makes the client ignore the whole id field (WHATWG HTML §9.2.6).
      if (id !== lastGoodId && /[\r\n\0]/.test(id)) {
        throw fieldError('id', 'must not contain CR, LF or NUL', id)
      }
      lastGoodId = id
      text = id
    } else throw fieldError('id', 'must be a string or a finite number', id)
  }
  if (retry !== undefined && !(Number.isSafeInteger(retry) && (retry as number) >= 0)) {
    throw fieldError('retry', 'must be a non-negative integer number of milliseconds', retry)
  }
  return text
}

function fieldError(field: string, rule: string, value: unknown) {
  return new SseTypeError(
    'ERR_SSE_INVALID_FIELD',
    `@ssekit/core: event "${field}" ${rule}; received ${describe(value)}.`,
  )
}

/** The `data:` lines for already-serialized text; each CR, LF or CRLF starts a new line. */
export function dataLines(text: string): string {
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) return `data: ${text}\n`
  return `data: ${text.split(LINE_BREAK).join('\ndata: ')}\n`
}

/**
 * Encodes one complete frame, ending in a blank line, from an event whose `data` is
 * already text. Fields are validated; see {@link encode}.
 */
export function encodeText(
  text: string,
  event?: string,
  id?: string | number | bigint,
  retry?: number,
): string {
  const idText = checkFields(event, id, retry)
  let frame = ''
  if (event !== undefined) frame += `event: ${event}\n`
  if (idText !== undefined) frame += `id: ${idText}\n`
  if (retry !== undefined) frame += `retry: ${retry}\n`
  return `${frame}${dataLines(text)}\n`
}

/**
 * Encodes one event as a complete frame ending in a blank line, so that a spec parser
 * gives back exactly `data` (each line break read as `\n`; SSE cannot carry a CR).
 *
 * @throws TypeError naming the field when `event` or `id` contain CR or LF, `id` contains
 * NUL or is a number that is not finite, `retry` is not a non-negative integer, or `data`
 * cannot be serialized.
 * @example
 * encode({ event: 'tick', id: '7', data: { n: 1 } })
 * // 'event: tick\nid: 7\ndata: {"n":1}\n\n'
 */
export function encode(event: SseEvent, serializer?: Serializer): string {
  if (typeof event !== 'object' || event === null) {
    throw new SseTypeError(
      'ERR_SSE_INVALID_FIELD',
      `@ssekit/core: encode() takes an event object { data, event?, id?, retry? }; received ${describe(event)}.`,
    )
  }
  return encodeText(serializeData(event.data, serializer), event.event, event.id, event.retry)
}

/** Encodes a comment: every line of `text` prefixed with `:`. Clients ignore comments. */
export function encodeComment(text = ''): string {
  if (text === '') return ':\n\n'
  return `: ${text.split(LINE_BREAK).join('\n: ')}\n\n`
}

/** A comment of exactly `bytes` bytes (at least 3), sent first to defeat buffering proxies. */
export function encodePadding(bytes: number): string {
  return `:${' '.repeat(bytes - 3)}\n\n`
}

/** A frame that only sets the client's reconnection delay. */
export function encodeRetry(ms: number): string {
  checkFields(undefined, undefined, ms)
  return `retry: ${ms}\n\n`
}

const utf8 = new TextEncoder()

/** UTF-8 bytes of a frame, made once and written as they are to every subscriber. */
export function toBytes(frame: string): Uint8Array {
  return utf8.encode(frame)
}

/** What a transport writes: a frame's text (one stream) or its bytes (shared by many). */
export type Chunk = string | Uint8Array

/**
 * The exact UTF-8 length of a string, without encoding it: a stream's own frames go to
 * Node as text (encoded in C++ as they are written), yet their bytes are counted, and a
 * chunked body states them. A lone surrogate counts 3: it is written as U+FFFD.
 */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      // A pair is 4 bytes for 2 units; a high surrogate alone is U+FFFD, 3 bytes.
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2
        i++
      } else bytes += 2
    } else bytes += 2
  }
  return bytes
}

/** Node's, Bun's and Deno's `Buffer.byteLength`: the same count, in native code. */
type NativeBuffer = { byteLength(text: string, encoding: 'utf8'): number }
const nativeLength = (globalThis as { Buffer?: NativeBuffer }).Buffer?.byteLength

/** The byte length of a chunk. */
export function chunkLength(chunk: Chunk): number {
  if (typeof chunk !== 'string') return chunk.byteLength
  return nativeLength === undefined ? utf8Length(chunk) : nativeLength(chunk, 'utf8')
}
