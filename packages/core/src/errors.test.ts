import { afterEach, describe, expect, it, vi } from 'vitest'
import { rateLimited, SseError } from './errors.js'
import { lastEventIdFrom } from './last-event-id.js'

afterEach(() => {
  vi.useRealTimers()
})

const slow = () => new SseError('ERR_SSE_SLOW_CLIENT', '@ssekit/core: a client was cut off')

describe('rateLimited', () => {
  it('reports the first error of a code, then at most one per interval, saying how many it left out', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const seen: string[] = []
    const warn = rateLimited((error) => seen.push(error.message), 10_000)
    warn(slow())
    warn(slow())
    warn(slow())
    expect(seen).toEqual(['@ssekit/core: a client was cut off'])
    vi.advanceTimersByTime(9_999)
    warn(slow())
    expect(seen).toHaveLength(1)
    vi.advanceTimersByTime(1)
    warn(slow())
    expect(seen).toEqual([
      '@ssekit/core: a client was cut off',
      '@ssekit/core: a client was cut off (3 more like this in the last 10 s were not reported)',
    ])
  })

  it('limits each code on its own', () => {
    const seen: string[] = []
    const warn = rateLimited((error) => seen.push((error as SseError).code), 10_000)
    warn(slow())
    warn(new SseError('ERR_SSE_HEADERS_SENT', 'x'))
    warn(slow())
    expect(seen).toEqual(['ERR_SSE_SLOW_CLIENT', 'ERR_SSE_HEADERS_SENT'])
  })
})

describe('lastEventIdFrom', () => {
  it('reads the header, else the named query parameter, else nothing', () => {
    expect(lastEventIdFrom('abc-1', '/events?last=q-2', 'last')).toBe('abc-1')
    expect(lastEventIdFrom(undefined, '/events?last=q-2', 'last')).toBe('q-2')
    expect(lastEventIdFrom(undefined, '/events?last=q-2')).toBe(undefined)
    expect(lastEventIdFrom(null, '/events')).toBe(undefined)
  })

  it('reads a UTF-8 id that reached the server as Latin-1 back as sent', () => {
    const asLatin1 = (text: string) => String.fromCharCode(...new TextEncoder().encode(text))
    expect(lastEventIdFrom(asLatin1('terminé'))).toBe('terminé')
    expect(lastEventIdFrom(asLatin1('日本-42'))).toBe('日本-42')
    // Bytes that are not UTF-8 stay as they came.
    expect(lastEventIdFrom('caf\u00e9')).toBe('caf\u00e9')
  })

  it('gives undefined, never a throw, for an id that cannot be one', () => {
    expect(lastEventIdFrom('a\0b')).toBe(undefined)
    expect(lastEventIdFrom('x'.repeat(1025))).toBe(undefined)
    expect(lastEventIdFrom(undefined, '/e?last=a%0Ab', 'last')).toBe(undefined)
    expect(lastEventIdFrom(['a', 'b'] as never)).toBe(undefined)
  })
})
