import type { HeaderValues } from './options.js'

/** Headers every event stream is answered with (before any user headers). */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform also keeps compression middleware off the stream.
  'cache-control': 'no-cache, no-transform',
  // nginx: do not buffer this response.
  'x-accel-buffering': 'no',
})

// Connection-specific headers are forbidden in HTTP/2 (RFC 9113 §8.2.2).
const HTTP1_ONLY = new Set(['connection', 'transfer-encoding', 'keep-alive', 'upgrade'])

/**
 * The response headers of an event stream, lower-cased, ready for `writeHead` or
 * `new Headers()`: the SSE headers, then the user's, then `Connection` when the transport
 * sends one (`undefined` on HTTP/2, and on Web responses, whose runtime owns it; the
 * user's connection-specific headers are then dropped too). A user header cannot replace
 * `Content-Type`.
 */
export function streamHeaders(
  connection: 'keep-alive' | 'close' | undefined,
  extra: HeaderValues,
): Record<string, string | readonly string[]> {
  const headers: Record<string, string | readonly string[]> = { ...SSE_HEADERS }
  for (const name in extra) {
    const lower = name.toLowerCase()
    if (lower === 'content-type') continue
    if (connection === undefined && HTTP1_ONLY.has(lower)) continue
    headers[lower] = extra[name] as string | readonly string[]
  }
  if (connection !== undefined) headers.connection = connection
  return headers
}

/** Copies header records into a `Headers`, keeping every value of repeated headers. */
export function toWebHeaders(record: Record<string, string | readonly string[]>): Headers {
  const headers = new Headers()
  for (const name in record) {
    const value = record[name]
    if (typeof value === 'string') headers.set(name, value)
    else if (value !== undefined) for (const one of value) headers.append(name, one)
  }
  return headers
}
