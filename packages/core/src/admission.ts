import type { AuthorizeResult } from './options.js'
import type { Refusal } from './refusal.js'
import { allStreams, type StreamGroup } from './registry.js'

/** What admission needs of a stream that has not opened. */
export interface Admitted {
  _hold(): void
  _release(): void
  _refuse(why: Refusal): void
  /** Reports an error the way the stream reports its own (`onError`, else a warning). */
  _report(error: unknown): void
  /** Opens the stream at the end of the tick, unless something holds it. */
  _openSoon(): void
}

/**
 * Admits a new stream: `maxStreams` first (over it, the client is turned away), then the
 * `authorize` option, which holds the status until it decides. Opening waits for the end of
 * the tick, so that a handler can subscribe to a channel first and its `authorize` or limit
 * can still choose the status.
 */
export function admitStream(
  stream: Admitted & object,
  options: {
    readonly maxStreams: number
    readonly authorize:
      | ((context: unknown) => AuthorizeResult | Promise<AuthorizeResult>)
      | undefined
  },
  context: unknown,
  group: StreamGroup | undefined,
): void {
  if (allStreams.size >= options.maxStreams) {
    stream._refuse('limit')
    return
  }
  allStreams._add(stream as never)
  group?._add(stream as never)
  const authorize = options.authorize
  if (authorize !== undefined) {
    stream._hold()
    const failed = (error: unknown) => {
      stream._report(error)
      stream._refuse('error')
    }
    let verdict: AuthorizeResult | Promise<AuthorizeResult>
    try {
      verdict = authorize(context)
    } catch (error) {
      failed(error)
      return
    }
    if (typeof (verdict as { then?: unknown }).then === 'function') {
      ;(verdict as Promise<AuthorizeResult>).then((v) => applyVerdict(stream, v), failed)
    } else applyVerdict(stream, verdict as AuthorizeResult)
  }
  stream._openSoon()
}

/**
 * Applies an authorize verdict to a stream held for it: `true` releases it, `401` refuses
 * with 401, anything else with 403. Returns whether it was admitted.
 */
export function applyVerdict(stream: Admitted, verdict: unknown): boolean {
  if (verdict === true) {
    stream._release()
    return true
  }
  stream._refuse(verdict === 401 ? 'unauthorized' : 'forbidden')
  return false
}
