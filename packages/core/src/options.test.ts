import { afterEach, describe, expect, it, vi } from 'vitest'
import { SseTypeError } from './errors.js'
import { pickRetry, resolveOptions, type StreamOptions } from './options.js'
import { MemoryEventStore } from './store-memory.js'
import { createEventStreamResponse } from './transport-web.js'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Asserts that `options` is refused with a TypeError whose message matches `pattern`. */
function refuses(options: unknown, pattern: RegExp) {
  let error: unknown
  try {
    resolveOptions(options as StreamOptions)
  } catch (e) {
    error = e
  }
  expect(error, `expected ${pattern} to be thrown`).toBeInstanceOf(TypeError)
  expect(error).toBeInstanceOf(SseTypeError)
  expect((error as SseTypeError).code).toBe('ERR_SSE_INVALID_OPTION')
  expect((error as Error).message).toMatch(/^@ssekit\/core: /)
  expect((error as Error).message).toMatch(pattern)
}

describe('resolveOptions rejects each bad value with a TypeError naming the option and what it accepts', () => {
  const cases: [string, unknown[], RegExp][] = [
    [
      'heartbeat',
      [0, -1, 1.5, Number.NaN, '1000', true, null, 2 ** 31],
      /option "heartbeat" must be a positive integer of milliseconds, or false to disable; received/,
    ],
    [
      'retry',
      [-1, 1.5, Number.NaN, '100', null, [], true, 2 ** 31],
      /option "retry" must be a non-negative integer of milliseconds or \{ ms, jitter\? \}/,
    ],
    [
      'store',
      // The old interface (append + readAfter) is refused too: it has no named logs.
      [{}, { append() {} }, { append() {}, readAfter() {} }, 'redis', null, () => {}],
      /option "store" must be an EventStore with append\(\), read\(\) and info\(\)/,
    ],
    [
      'maxBufferedBytes',
      [0, -1, 1.5, '1024', Number.POSITIVE_INFINITY, null, 100, 65_535],
      /option "maxBufferedBytes" must be an integer number of bytes of at least 65536 \(64 KiB/,
    ],
    [
      'padding',
      [1, 2, -1, 1.5, 65_537, '2048', null],
      /option "padding" must be an integer number of bytes from 3 to 65536, or 0 for none/,
    ],
    ['serializer', ['json', {}, null], /option "serializer" must be a function/],
    ['headers', ['x', null, [], 5], /option "headers" must be an object of header names/],
    [
      'lastEventIdQuery',
      ['', true, 5, null],
      /option "lastEventIdQuery" must be a non-empty query parameter name, or false/,
    ],
    [
      'maxStreams',
      [-1, 1.5, Number.NaN, '10', null],
      /option "maxStreams" must be a non-negative integer, or Infinity for no limit/,
    ],
    ['overLimit', ['drop', '', null, 503], /option "overLimit" must be 'retry' or 'reject'/],
    ['limitRetry', [-5, 'soon', null], /option "limitRetry" must be a non-negative integer/],
    ['authorize', [true, 'yes', {}], /option "authorize" must be a function/],
    ['onGap', ['snapshot', {}], /option "onGap" must be a function/],
    ['onError', [console, 1], /option "onError" must be a function/],
  ]
  for (const [name, values, pattern] of cases) {
    it(`rejects a bad ${name}`, () => {
      for (const value of values) refuses({ [name]: value }, pattern)
    })
  }

  it('names the nested field of a bad { ms, jitter } retry', () => {
    refuses({ retry: { ms: -1 } }, /option "retry\.ms" must be/)
    refuses({ retry: { jitter: 5 } }, /option "retry\.ms" must be/)
    refuses({ retry: { ms: 100, jitter: -1 } }, /option "retry\.jitter" must be/)
    refuses({ retry: { ms: 100, jitter: 0.5 } }, /option "retry\.jitter" must be/)
    refuses({ limitRetry: { ms: 100, jitter: 'x' } }, /option "limitRetry\.jitter" must be/)
  })

  it('names the header whose name or value cannot be sent', () => {
    refuses({ headers: { 'bad name': 'x' } }, /option "headers\["bad name"\]" must be/)
    refuses({ headers: { 'x-a': 'a\r\nInjected: 1' } }, /option "headers\["x-a"\]" must be/)
    refuses({ headers: { 'x-a': 'a\0' } }, /option "headers\["x-a"\]" must be/)
    refuses({ headers: { 'x-a': 5 } }, /option "headers\["x-a"\]" must be/)
    refuses(
      { headers: { 'set-cookie': ['a=1', 'b=2\n'] } },
      /option "headers\["set-cookie"\]" must be/,
    )
  })

  it('rejects unknown option names and lists the known ones', () => {
    refuses(
      { heartBeat: 1000 },
      /unknown option "heartBeat"; the options are schema, heartbeat, retry, store,/,
    )
    refuses({ maxBufferSize: 10 }, /unknown option "maxBufferSize"/)
  })

  it('rejects options that are not an object', () => {
    refuses('fast', /option "options" must be an object/)
    refuses(null, /option "options" must be an object/)
    refuses([], /option "options" must be an object/)
  })

  it('does not echo a long received value in full', () => {
    try {
      resolveOptions({ lastEventIdQuery: 5 as never, overLimit: 'x'.repeat(5000) as never })
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(300)
    }
  })
})

describe('resolveOptions accepts the documented values', () => {
  it('fills in the defaults', () => {
    const o = resolveOptions({})
    expect(o).toMatchObject({
      heartbeat: 15_000,
      retry: undefined,
      store: undefined,
      maxBufferedBytes: 1024 * 1024,
      padding: 0,
      headers: {},
      lastEventIdQuery: false,
      maxStreams: Number.POSITIVE_INFINITY,
      overLimit: 'retry',
      limitRetry: { ms: 2000, jitter: 8000 },
    })
    expect(o.serializer).toBe(JSON.stringify)
    expect(resolveOptions(undefined)).toEqual(o)
  })

  it('accepts the edge values: heartbeat false, retry 0, padding 0 and 3, maxStreams 0 and Infinity', () => {
    expect(resolveOptions({ heartbeat: false }).heartbeat).toBe(false)
    expect(resolveOptions({ retry: 0 }).retry).toBe(0)
    expect(resolveOptions({ retry: { ms: 0 } }).retry).toEqual({ ms: 0, jitter: 0 })
    expect(resolveOptions({ padding: 0 }).padding).toBe(0)
    expect(resolveOptions({ padding: 3 }).padding).toBe(3)
    expect(resolveOptions({ padding: 65_536 }).padding).toBe(65_536)
    expect(resolveOptions({ maxStreams: 0 }).maxStreams).toBe(0)
    expect(resolveOptions({ maxStreams: Number.POSITIVE_INFINITY }).maxStreams).toBe(
      Number.POSITIVE_INFINITY,
    )
    expect(resolveOptions({ lastEventIdQuery: 'lastEventId' }).lastEventIdQuery).toBe('lastEventId')
    expect(resolveOptions({ store: new MemoryEventStore() }).store).toBeInstanceOf(MemoryEventStore)
  })

  it('copies the caller options, never mutates them, and freezes the result', () => {
    const cookies = ['a=1', 'b=2']
    const options: StreamOptions = {
      heartbeat: 1000,
      retry: { ms: 5, jitter: 1 },
      headers: { 'set-cookie': cookies },
    }
    const snapshot = structuredClone(options)
    const resolved = resolveOptions(options)
    expect(options).toEqual(snapshot)
    expect(Object.isFrozen(resolved)).toBe(true)
    expect(Object.isFrozen(resolved.headers)).toBe(true)
    cookies.push('c=3')
    ;(options.retry as { ms: number }).ms = 999
    expect(resolved.headers['set-cookie']).toEqual(['a=1', 'b=2'])
    expect(resolved.retry).toEqual({ ms: 5, jitter: 1 })
  })

  it('lays new options over an already resolved base', () => {
    const base = resolveOptions({ heartbeat: 1000, padding: 16 })
    const route = resolveOptions({ padding: 0, retry: 10 }, base)
    expect(route).toMatchObject({ heartbeat: 1000, padding: 0, retry: 10 })
    expect(base.padding).toBe(16)
    expect(resolveOptions(undefined, base)).toBe(base)
  })
})

describe('factories validate options at creation', () => {
  it('createEventStreamResponse throws the TypeError at once, before any handler runs', () => {
    const handler = vi.fn()
    expect(() =>
      createEventStreamResponse(new Request('http://localhost/'), handler, { padding: 1 }),
    ).toThrow(/option "padding"/)
    expect(() =>
      createEventStreamResponse(new Request('http://localhost/'), handler, { unknown: 1 } as never),
    ).toThrow(/unknown option "unknown"/)
    expect(handler).not.toHaveBeenCalled()
  })
})

describe('pickRetry', () => {
  it('returns a number as is', () => {
    expect(pickRetry(1500)).toBe(1500)
  })

  it('picks ms plus a uniform 0..jitter, both ends included', () => {
    const random = vi.spyOn(Math, 'random')
    random.mockReturnValue(0)
    expect(pickRetry({ ms: 1000, jitter: 500 })).toBe(1000)
    random.mockReturnValue(0.999_999_9)
    expect(pickRetry({ ms: 1000, jitter: 500 })).toBe(1500)
    random.mockReturnValue(0.5)
    expect(pickRetry({ ms: 1000, jitter: 500 })).toBe(1250)
    expect(pickRetry({ ms: 1000, jitter: 0 })).toBe(1000)
  })
})

describe('layered options', () => {
  it('adds per-route headers to the app headers, the route winning on the same name', () => {
    const app = resolveOptions({ headers: { 'x-app': 'a', 'x-both': 'app' } })
    const route = resolveOptions({ headers: { 'x-route': 'r', 'x-both': 'route' } }, app)
    expect(route.headers).toEqual({ 'x-app': 'a', 'x-route': 'r', 'x-both': 'route' })
    expect(app.headers).toEqual({ 'x-app': 'a', 'x-both': 'app' })
  })
})
