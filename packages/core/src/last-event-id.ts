/** Longest Last-Event-ID honoured; anything longer cannot be an id this library gave out. */
export const MAX_LAST_EVENT_ID = 1024

// An id containing these could never have been sent by a conforming server.
const FORBIDDEN = /[\r\n\0]/

/**
 * Reads a Last-Event-ID from the network. Returns `{ id }` for a usable value,
 * `{ invalid }` (truncated) for one that cannot be an id, or `undefined` when absent.
 * Never throws.
 */
export function readLastEventId(
  raw: string | null | undefined,
): { id: string; invalid?: undefined } | { id?: undefined; invalid: string } | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined
  if (raw.length > MAX_LAST_EVENT_ID || FORBIDDEN.test(raw)) {
    return { invalid: raw.slice(0, MAX_LAST_EVENT_ID) }
  }
  return { id: raw }
}

/** The value of one query parameter of a request target, or undefined. Never throws. */
export function queryParam(url: string | undefined, name: string): string | undefined {
  if (url === undefined) return undefined
  const q = url.indexOf('?')
  if (q === -1) return undefined
  try {
    return new URLSearchParams(url.slice(q + 1)).get(name) ?? undefined
  } catch {
    return undefined
  }
}

/**
 * The raw Last-Event-ID of a request: its header, else (when `query` names one) that query
 * parameter of `url`, which EventSource polyfills use. Undefined when neither is there.
 */
export function requestLastEventId(
  header: string | string[] | null | undefined,
  url: string | undefined,
  query: string | false,
): string | undefined {
  if (typeof header === 'string' && header !== '') return fromLatin1(header)
  return query === false ? undefined : queryParam(url, query)
}

/**
 * The Last-Event-ID a request carries, validated: its `Last-Event-ID` header, else (when
 * `query` names one) that query parameter of `url`. `undefined` when there is none or it
 * cannot be an id (over 1024 characters, or CR, LF or NUL in it). Never throws.
 *
 * Read it before opening a stream to answer without one: a job that has finished since the
 * client's last event answers 204, so that a browser `EventSource` stops reconnecting.
 *
 * @example
 * const last = lastEventIdFrom(req.headers['last-event-id'], req.url)
 * if (last !== undefined && job.isFinishedAt(last)) return res.writeHead(204).end()
 */
export function lastEventIdFrom(
  header: string | readonly string[] | null | undefined,
  url?: string,
  query: string | false = false,
): string | undefined {
  return readLastEventId(requestLastEventId(header as string | undefined, url, query))?.id
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Header values reach us as Latin-1 (one character per byte: Node's parser, and the Fetch
 * `Headers` of every runtime), while a browser sends its Last-Event-ID as UTF-8. Reads the
 * bytes back as UTF-8 when they are UTF-8, so that an id like `terminé` comes back as sent.
 */
export function fromLatin1(value: string): string {
  let high = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c > 0xff) return value
    if (c >= 0x80) high = true
  }
  if (!high) return value
  const bytes = new Uint8Array(value.length)
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i)
  try {
    return utf8.decode(bytes)
  } catch {
    return value
  }
}
