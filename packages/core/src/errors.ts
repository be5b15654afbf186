/** Stable codes carried by every error that ssekit throws on purpose. */
export type SseErrorCode =
  /** An option passed to a factory is not one of its accepted values. */
  | 'ERR_SSE_INVALID_OPTION'
  /** An event field (`event`, `id`, `retry`, `data`) cannot be written to the wire. */
  | 'ERR_SSE_INVALID_FIELD'
  /** The response had already started when a stream was opened on it. */
  | 'ERR_SSE_HEADERS_SENT'
  /** A stream was dropped because its client fell more than `maxBufferedBytes` behind. */
  | 'ERR_SSE_SLOW_CLIENT'
  /** A channel was used after `close()`. */
  | 'ERR_SSE_CHANNEL_CLOSED'
  /** A publish to a named log that has ended. */
  | 'ERR_SSE_LOG_ENDED'
  /** A lease on a named log that another producer holds. */
  | 'ERR_SSE_LEASED'
  /** The store could not be reached in time (Redis down, say); nothing was written. */
  | 'ERR_SSE_STORE_UNAVAILABLE'

/**
 * An error thrown or reported by ssekit. `code` is stable across versions; the message
 * starts with the package name and says how to fix the problem.
 */
export class SseError extends Error {
  readonly code: SseErrorCode

  constructor(code: SseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SseError'
    this.code = code
  }
}

/**
 * A programmer error in an argument: a `TypeError` (so `instanceof TypeError` holds, as
 * for the platform's own argument checks) that also carries a stable `code`.
 */
export class SseTypeError extends TypeError {
  readonly code: SseErrorCode

  constructor(code: SseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SseTypeError'
    this.code = code
  }
}

/** Describes a received value in an error message without echoing a huge or hostile one. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
    return JSON.stringify(shown)
  }
  if (typeof value === 'function') return 'a function'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'bigint') return `${value}n (a bigint)`
  return String(value)
}

/**
 * Where an error goes when no `onError` was given: a process warning on Node (visible,
 * never fatal), nothing elsewhere. Adapters pass their framework's logger instead.
 */
export function reportUnhandled(error: unknown): void {
  const proc = (globalThis as { process?: { emitWarning?: (w: Error | string) => void } }).process
  if (typeof proc?.emitWarning === 'function') {
    proc.emitWarning(error instanceof Error ? error : String(error))
  }
}

/** Least time between two reports of one kind through one rate-limited sink. */
export const WARN_INTERVAL_MS = 10_000

/**
 * Wraps a sink (a logger's `warn`, say) so that it reports at most one error of each `code`
 * per `intervalMs`; the next report after a quiet spell says how many were left out. A flood
 * of slow clients then costs one log line per interval, not one per client.
 */
export function rateLimited(
  sink: (error: Error) => void,
  intervalMs = WARN_INTERVAL_MS,
): (error: Error) => void {
  const last = new Map<string, { at: number; skipped: number }>()
  return (error) => {
    const code = (error as { code?: unknown }).code
    const key = typeof code === 'string' ? code : error.name
    const now = Date.now()
    const seen = last.get(key)
    if (seen !== undefined && now - seen.at < intervalMs) {
      seen.skipped++
      return
    }
    if (seen !== undefined && seen.skipped > 0) {
      error.message += ` (${seen.skipped} more like this in the last ${Math.round((now - seen.at) / 1000)} s were not reported)`
    }
    last.set(key, { at: now, skipped: 0 })
    sink(error)
  }
}

/** Process warnings, rate-limited: where warnings go when nobody gave a logger or `onError`. */
export const warnUnhandled: (error: Error) => void = rateLimited(reportUnhandled)

/**
 * Throws a `TypeError` naming the first key of `value` that is not in `known`: a typo in an
 * option (`jiter`, `maxSubscriber`) would otherwise be ignored without a word.
 */
export function rejectUnknownKeys(value: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/core: unknown ${where} "${key}"; the options are ${known.join(', ')}.`,
      )
    }
  }
}

/** The error of an `id` given where the store assigns them. */
export function storeAssignsIds(): SseTypeError {
  return new SseTypeError(
    'ERR_SSE_INVALID_FIELD',
    '@ssekit/core: event "id" is assigned by the store (it names the entry\'s place in the log, for resume); leave it out.',
  )
}
