/**
 * Reconnect timing, with fake timers and a fixed Math.random: the wait is at least the
 * server's `retry:` (or the `delay` option), plus full jitter up to max(base, 100) × 2^n, all
 * capped at `maxDelay`; a `Retry-After` is a floor; giving up after `maxAttempts` or
 * `maxElapsed`. The answers are scripted (`fetch` option): timers are all that runs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { backoffDelay, retryAfterMs } from './backoff.js'
import { connect, type ReconnectOptions, type RetryInfo, type SseClientError } from './index.js'
import { fetchDouble, type Scripted } from './test-utils/fetch.js'

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(0)
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

const unavailable: Scripted = { status: 503, headers: {} }

/** Runs a source over scripted answers until it closes; returns when each request was made. */
async function run(
  script: Scripted[] | ((i: number) => Scripted),
  reconnect: ReconnectOptions | false,
) {
  const double = fetchDouble(script)
  const retries: RetryInfo[] = []
  const source = connect('http://test.invalid/events', {
    fetch: double.fetch,
    reconnect,
    onRetry: (info) => retries.push(info),
  })
  source.on('message', () => {})
  let closed: Awaited<typeof source.closed> | undefined
  void source.closed.then((info) => {
    closed = info
  })
  for (let i = 0; i < 200 && closed === undefined; i++) await vi.runAllTimersAsync()
  return { at: double.calls.map((c) => c.at), retries, closed: closed!, calls: double.calls }
}

describe('backoffDelay', () => {
  it('is the base at random 0, and grows to max(base, 100) × 2^n at random 1, capped', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, 1000, 10_000, () => 0))).toEqual([
      1000, 1000, 1000, 1000, 1000,
    ])
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, 1000, 10_000, () => 1))).toEqual([
      2000, 4000, 8000, 10_000, 10_000,
    ])
    expect(backoffDelay(2, 1000, 10_000, () => 0.25)).toBe(1750)
  })

  it("spreads a server's retry: 0 over 100 × 2^n ms instead of spinning", () => {
    expect([1, 2, 3].map((n) => backoffDelay(n, 0, 30_000, () => 1))).toEqual([200, 400, 800])
    expect(backoffDelay(1, 0, 30_000, () => 0)).toBe(0)
  })

  it('cuts a base over maxDelay to maxDelay, with no jitter left', () => {
    expect(backoffDelay(1, 1e12, 30_000, () => 0.9)).toBe(30_000)
  })

  it('reads Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs('7', 0)).toBe(7000)
    expect(retryAfterMs(new Date(5000).toUTCString(), 1000)).toBe(4000)
    expect(retryAfterMs('soon', 0)).toBeUndefined()
    expect(retryAfterMs(null, 0)).toBeUndefined()
  })
})

describe('reconnect timing', () => {
  it('waits exponentially longer, jittered within its bounds, capped, and gives up after maxAttempts', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const { at, retries, closed } = await run(() => unavailable, {
      delay: 1000,
      maxDelay: 5000,
      maxAttempts: 4,
    })
    // base 1000; ceilings 2000, 4000, 5000 (cap), 5000; half way at random 0.5.
    expect(retries.map((r) => [r.attempt, r.delay])).toEqual([
      [1, 1500],
      [2, 2500],
      [3, 3000],
      [4, 3000],
    ])
    expect(at).toEqual([0, 1500, 4000, 7000, 10_000])
    expect(retries.map((r) => (r.error as SseClientError).status)).toEqual([503, 503, 503, 503])
    expect(closed.reason).toBe('failed')
    const error = (closed as { error: SseClientError }).error
    expect(error.code).toBe('ERR_SSE_GAVE_UP')
    expect(error.message).toBe(
      '@ssekit/client: gave up reconnecting to http://test.invalid/events after 4 reconnects (reconnect.maxAttempts); last failure: @ssekit/client: http://test.invalid/events answered 503; it will be retried.',
    )
    expect((error.cause as SseClientError).status).toBe(503)
  })

  it('stays within [base, ceiling] at the extremes of Math.random', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const low = await run(() => unavailable, { delay: 1000, maxAttempts: 3 })
    expect(low.retries.map((r) => r.delay)).toEqual([1000, 1000, 1000])
    vi.spyOn(Math, 'random').mockReturnValue(0.999)
    const high = await run(() => unavailable, { delay: 1000, maxDelay: 30_000, maxAttempts: 3 })
    expect(high.retries.map((r) => Math.round(r.delay))).toEqual([1999, 3997, 7993])
  })

  it("honours the server's retry:, and ignores retry: -1, 1e12 and abc (digits only)", async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const lines = ['retry: 3000', 'retry: -1', 'retry: 1e12', 'retry: abc', 'retry: 250']
    const { retries, at } = await run(
      (i) =>
        i < lines.length
          ? { chunks: [`${lines[i]}\ndata: ${i}\n\n`] }
          : { status: 204, headers: {} },
      { delay: 1000 },
    )
    // An event came on each stream: each wait is the first of its run (attempt 1).
    expect(retries.map((r) => [r.attempt, r.delay, r.error])).toEqual([
      [1, 3000, undefined],
      [1, 3000, undefined],
      [1, 3000, undefined],
      [1, 3000, undefined],
      [1, 250, undefined],
    ])
    expect(at).toEqual([0, 3000, 6000, 9000, 12_000, 12_250])
  })

  it('cuts a retry: of 1000000000000 to maxDelay', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.7)
    const { retries } = await run(
      (i) => (i === 0 ? { chunks: ['retry: 1000000000000\ndata: x\n\n'] } : { status: 204 }),
      { maxDelay: 20_000 },
    )
    expect(retries.map((r) => r.delay)).toEqual([20_000])
  })

  it('waits at least Retry-After on a 429, within maxDelay', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const { retries } = await run(
      (i) =>
        i === 0
          ? { status: 429, headers: { 'retry-after': '7' } }
          : i === 1
            ? { status: 503, headers: { 'retry-after': '600' } }
            : { status: 204 },
      { delay: 1000, maxDelay: 20_000 },
    )
    expect(retries.map((r) => r.delay)).toEqual([7000, 20_000])
  })

  it('gives up when the next wait would pass maxElapsed', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const { at, closed } = await run(() => unavailable, { delay: 1000, maxElapsed: 3000 })
    expect(at).toEqual([0, 1000, 2000, 3000])
    expect((closed as { error: SseClientError }).error.message).toMatch(
      /^@ssekit\/client: gave up reconnecting to http:\/\/test.invalid\/events after 3000 ms \(reconnect.maxElapsed is 3000\)/,
    )
  })

  it('starts a new run once an event arrives: the attempt count goes back to 1', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const script: Scripted[] = [
      unavailable,
      unavailable,
      { chunks: ['data: x\n\n'] },
      unavailable,
      { status: 204 },
    ]
    const { retries } = await run(script, { delay: 1000 })
    expect(retries.map((r) => [r.attempt, r.delay])).toEqual([
      [1, 1500],
      [2, 2500],
      [1, 1500],
      [2, 2500],
    ])
  })

  it('reconnects after a network failure, sending Last-Event-ID', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const { calls, retries, closed } = await run(
      (i) =>
        i === 0
          ? { chunks: ['id: 41\ndata: a\n\nid: 42\ndata: b\n\n'] }
          : i === 1
            ? (undefined as unknown as Scripted) // fetch rejects, as on a refused connection
            : { status: 204 },
      { delay: 10 },
    )
    expect(calls.map((c) => c.headers.get('last-event-id'))).toEqual([null, '42', '42'])
    expect(retries.map((r) => (r.error as SseClientError | undefined)?.code)).toEqual([
      undefined,
      'ERR_SSE_NETWORK',
    ])
    expect(closed).toEqual({ reason: 'done' })
  })

  it('stops at the first end or failure with reconnect: false', async () => {
    const ended = await run([{ chunks: ['data: a\n\n'] }], false)
    expect(ended.closed).toEqual({ reason: 'done' })
    const refused = await run([unavailable], false)
    expect(refused.calls).toHaveLength(1)
    expect((refused.closed as { error: SseClientError }).error.code).toBe('ERR_SSE_HTTP_STATUS')
  })
})
