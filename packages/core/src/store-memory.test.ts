import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SseTypeError } from './errors.js'
import { MemoryEventStore } from './store-memory.js'

afterEach(() => {
  vi.useRealTimers()
})

function fill(store: MemoryEventStore, n: number): string[] {
  return Array.from({ length: n }, (_, i) => store.append({ data: `e${i + 1}` }))
}

/** The data of what `readAfter(id)` returns, or its gap reason. */
function after(store: MemoryEventStore, id: string): string[] | string {
  const result = store.readAfter(id)
  return result.gap !== undefined ? result.gap.reason : result.events.map((e) => e.data)
}

describe('MemoryEventStore ids', () => {
  it('assigns ids that grow monotonically, as the store orders them', () => {
    const store = new MemoryEventStore()
    const ids = fill(store, 50)
    expect(new Set(ids).size).toBe(50)
    const seq = ids.map((id) => Number(id.split('-')[1]))
    expect(seq).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    // Same tag, so every id is read back by this store.
    expect(new Set(ids.map((id) => id.split('-')[0])).size).toBe(1)
  })

  it('keeps event, retry and data as given', () => {
    const store = new MemoryEventStore()
    const first = store.append({ data: 'zero' })
    const id = store.append({ data: 'a\nb', event: 'tick', retry: 0 })
    expect(store.readAfter(first)).toMatchObject({
      events: [{ id, data: 'a\nb', event: 'tick', retry: 0 }],
    })
  })
})

describe('MemoryEventStore.readAfter', () => {
  it('returns exactly the events after the id, in order, at every boundary', () => {
    const store = new MemoryEventStore()
    const ids = fill(store, 5)
    expect(after(store, ids[0]!)).toEqual(['e2', 'e3', 'e4', 'e5'])
    expect(after(store, ids[3]!)).toEqual(['e5'])
    expect(after(store, ids[4]!)).toEqual([])
    expect(store.readAfter(ids[1]!).events?.map((e) => e.id)).toEqual(ids.slice(2))
  })

  it('returns the events after any retained id (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 60 }),
        fc.nat(),
        (max, n, pick) => {
          const store = new MemoryEventStore({ maxEvents: max })
          const ids = fill(store, n)
          const i = pick % n
          const got = after(store, ids[i]!)
          // Events e(i+2)..e(n) must all be retained, that is the last `max` events.
          const firstRetained = Math.max(0, n - max)
          if (i + 1 >= firstRetained) {
            expect(got).toEqual(Array.from({ length: n - i - 1 }, (_, k) => `e${i + k + 2}`))
          } else expect(got).toBe('expired')
        },
      ),
    )
  })

  it("reports 'unknown' for an id it never gave out", () => {
    const store = new MemoryEventStore()
    const ids = fill(store, 3)
    const tag = ids[0]!.split('-')[0]
    for (const id of [
      `${tag}-0`,
      `${tag}-4`,
      `${tag}-999999999999999`,
      'abc',
      '1',
      '',
      `${tag}-`,
      `${tag}-1-1`,
    ]) {
      expect(store.readAfter(id)).toEqual({ gap: { reason: 'unknown', lastEventId: id } })
    }
  })

  it("reports ids of another store instance as 'unknown' gaps", () => {
    const a = new MemoryEventStore()
    const b = new MemoryEventStore()
    const idA = a.append({ data: 'a' })
    b.append({ data: 'b' })
    b.append({ data: 'c' })
    expect(b.readAfter(idA)).toEqual({ gap: { reason: 'unknown', lastEventId: idA } })
  })

  it('never throws on hostile input, and truncates what it reports to 1024 characters', () => {
    const store = new MemoryEventStore()
    fill(store, 2)
    const long = 'x'.repeat(20_000)
    expect(store.readAfter(long)).toEqual({
      gap: { reason: 'unknown', lastEventId: 'x'.repeat(1024) },
    })
    expect(() => store.readAfter(undefined as never)).not.toThrow()
    expect(store.readAfter(undefined as never).gap?.reason).toBe('unknown')
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (id) => {
        const result = store.readAfter(id)
        expect(result.gap?.reason ?? 'events').toMatch(/^(unknown|events)$/)
      }),
    )
  })
})

describe('MemoryEventStore eviction', () => {
  it('keeps the last maxEvents events; a resume from before them is an expired gap', () => {
    const store = new MemoryEventStore({ maxEvents: 3 })
    const ids = fill(store, 5)
    expect(store.size).toBe(3)
    // e3, e4, e5 are kept: a client that saw e2 misses nothing.
    expect(after(store, ids[1]!)).toEqual(['e3', 'e4', 'e5'])
    // A client that saw e1 would miss e2: never silently.
    expect(store.readAfter(ids[0]!)).toEqual({ gap: { reason: 'expired', lastEventId: ids[0] } })
  })

  it('stays correct after dropping and compacting many events', () => {
    const store = new MemoryEventStore({ maxEvents: 10 })
    const ids = fill(store, 5000)
    expect(store.size).toBe(10)
    expect(after(store, ids[4989]!)).toEqual(Array.from({ length: 10 }, (_, k) => `e${4991 + k}`))
    expect(after(store, ids[4988]!)).toBe('expired')
    expect(after(store, ids[4999]!)).toEqual([])
  })

  it('drops events older than maxAgeMs', () => {
    vi.useFakeTimers()
    const store = new MemoryEventStore({ maxAgeMs: 1000 })
    const first = store.append({ data: 'old' })
    vi.advanceTimersByTime(600)
    const second = store.append({ data: 'newer' })
    expect(after(store, first)).toEqual(['newer'])
    vi.advanceTimersByTime(400)
    // 'old' is 1000 ms old now: gone. A resume after it still misses nothing.
    expect(store.size).toBe(1)
    expect(after(store, first)).toEqual(['newer'])
    vi.advanceTimersByTime(600)
    expect(store.size).toBe(0)
    expect(after(store, second)).toEqual([])
    // A client that saw only 'old' missed 'newer', which is gone: expired.
    expect(store.readAfter(first)).toEqual({ gap: { reason: 'expired', lastEventId: first } })
  })
})

describe('MemoryEventStore options', () => {
  const refuses = (options: unknown, pattern: RegExp) => {
    expect(() => new MemoryEventStore(options as never)).toThrow(SseTypeError)
    expect(() => new MemoryEventStore(options as never)).toThrow(pattern)
  }

  it('rejects a bad maxEvents with a message naming it', () => {
    for (const maxEvents of [0, -1, 1.5, Number.NaN, '10', Number.POSITIVE_INFINITY, null]) {
      refuses(
        { maxEvents },
        /MemoryEventStore option "maxEvents" must be a positive integer; received/,
      )
    }
  })

  it('rejects a bad maxAgeMs with a message naming it', () => {
    for (const maxAgeMs of [0, -1, 1.5, Number.NaN, '10', null]) {
      refuses(
        { maxAgeMs },
        /MemoryEventStore option "maxAgeMs" must be a positive integer of milliseconds, or Infinity/,
      )
    }
  })

  it('accepts the defaults, Infinity for maxAgeMs, and keeps 1000 events by default', () => {
    expect(() => new MemoryEventStore({ maxAgeMs: Number.POSITIVE_INFINITY })).not.toThrow()
    const store = new MemoryEventStore()
    fill(store, 1001)
    expect(store.size).toBe(1000)
  })
})
