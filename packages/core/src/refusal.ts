import { encodeRetry } from './encode.js'
import { streamHeaders } from './headers.js'
import { pickRetry, type ResolvedOptions } from './options.js'
import type { Transport } from './transport.js'

/** Why a request gets no stream. */
export type Refusal = 'unauthorized' | 'forbidden' | 'limit' | 'error' | 'finished' | 'unavailable'

const STATUS_TEXT: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** True when the client is told to come back later (200, a jittered `retry:`, the end). */
export function retriesLater(why: Refusal, options: ResolvedOptions): boolean {
  return why === 'unavailable' || (why === 'limit' && options.overLimit === 'retry')
}

/**
 * Answers a request that gets no stream, on a transport that has not opened: 401/403 for
 * `authorize`; for a limit, 503 with `Retry-After` or (`overLimit: 'retry'`) 200 with a
 * jittered `retry:`, which is also the answer when the store is away (a browser EventSource
 * gives up for good on an error status); 204 for a client that has all of a finished log;
 * 500 for a handler that failed. The user's headers (CORS, say) go on every answer: a
 * cross-origin client that cannot read the status cannot tell a refusal from a network
 * error, and keeps retrying.
 */
export function answerRefusal(t: Transport, options: ResolvedOptions, why: Refusal): void {
  const headers = streamHeaders(t.connection, options.headers)
  if (why === 'finished') t.open(204, headers)
  else if (retriesLater(why, options)) {
    t.open(200, headers)
    t.write(encodeRetry(pickRetry(options.limitRetry)))
  } else {
    const status =
      why === 'limit' ? 503 : why === 'unauthorized' ? 401 : why === 'forbidden' ? 403 : 500
    const plain: Record<string, string | readonly string[]> = {
      ...headers,
      'content-type': 'text/plain; charset=utf-8',
    }
    if (status === 503) {
      plain['retry-after'] = String(Math.ceil(pickRetry(options.limitRetry) / 1000))
    }
    t.open(status, plain)
    t.write(STATUS_TEXT[status] ?? 'Error')
  }
  t.end()
}
