/** Stable codes of the errors `@ssekit/client` throws or reports. */
export type SseClientErrorCode =
  /** An option passed to `connect()` is not one of its accepted values (a `TypeError`). */
  | 'ERR_SSE_INVALID_OPTION'
  /**
   * The server answered a status that is not a stream: for good (4xx but 408 and 429, a 3xx
   * left unfollowed, 205) or, in a retry report, for now (408, 429, 5xx). `status` has it.
   */
  | 'ERR_SSE_HTTP_STATUS'
  /** A 2xx answer whose `Content-Type` is not `text/event-stream`: not an SSE endpoint. */
  | 'ERR_SSE_CONTENT_TYPE'
  /** A line or an event grew past `maxEventLength`: the connection was failed. */
  | 'ERR_SSE_EVENT_TOO_LARGE'
  /** The data of an event declared `'json'` (or given a parser) could not be parsed. */
  | 'ERR_SSE_INVALID_DATA'
  /** The request failed or the body broke off (a retry report, or the cause of a give-up). */
  | 'ERR_SSE_NETWORK'
  /** Nothing arrived for `idleTimeout` ms: the connection was dropped to reconnect. */
  | 'ERR_SSE_IDLE_TIMEOUT'
  /** Reconnecting ran out of `maxAttempts` or `maxElapsed`; `cause` is the last failure. */
  | 'ERR_SSE_GAVE_UP'

/**
 * An error of `@ssekit/client`. `code` is stable across versions; the message starts with the
 * package name and says what to do about it. `status` is the HTTP status, when one caused it.
 */
export class SseClientError extends Error {
  readonly code: SseClientErrorCode
  readonly status: number | undefined

  constructor(
    code: SseClientErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SseClientError'
    this.code = code
    this.status = options?.status
  }
}

/** A programmer error in an option: a `TypeError` (as the platform's own checks throw) with a `code`. */
export class SseClientTypeError extends TypeError {
  readonly code: SseClientErrorCode

  constructor(code: SseClientErrorCode, message: string) {
    super(message)
    this.name = 'SseClientTypeError'
    this.code = code
  }
}

/** Describes a received value in a message without echoing a huge or hostile one. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  }
  if (typeof value === 'function') return 'a function'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  return String(value)
}

export function optionError(name: string, accepts: string, value: unknown): SseClientTypeError {
  return new SseClientTypeError(
    'ERR_SSE_INVALID_OPTION',
    `@ssekit/client: option "${name}" must be ${accepts}; received ${describe(value)}.`,
  )
}
