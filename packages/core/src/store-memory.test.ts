import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SseTypeError } from './errors.js'
import type { LogListener, StoredEvent } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import { waitFor } from './test-utils/index.js'

afterEach(() => {
  vi.useRealTimers()
})

const LOG = 'job'
const ALL = Number.POSITIVE_INFINITY

function fill(store: MemoryEventStore, n: number, name = LOG): string[] {
  return Array.from({ length: n }, (_, i) => store.append(name, { data: `e${i + 1}` }).id)
}

/** The data of what `read(name, id)` returns, or its gap reason. */
function after(store: MemoryEventStore, id: string | undefined, name = LOG): string[] | string {
  const result = store.read(name, id, ALL)
  return result.gap !== undefined ? result.gap.reason : result.events.map((e) => e.data)
}

/** How many entries log `name` retains. */
function retained(store: MemoryEventStore, name = LOG): number {
  return store.read(name, undefined, ALL).events?.length ?? -1
}

/** A follower that records what it is told. */
function recorder(): LogListener & { entries: StoredEvent[]; resyncs: number } {
  const r = {
    entries: [] as StoredEvent[],
    resyncs: 0,
    entry: (e: StoredEvent) => r.entries.push(e),
    resync: () => {
      r.resyncs++
    },
  }
  return r
}

describe('MemoryEventStore ids', () => {
  it('assigns ids that grow monotonically, as the store orders them', () => {
    const store = new MemoryEventStore()
    const ids = fill(store, 50)
    expect(new Set(ids).size).toBe(50)
    const seq = ids.map((id) => Number(id.split('-')[1]))
    expect(seq).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    // Same epoch, so every id is read back by this log.
    expect(new Set(ids.map((id) => id.split('-')[0])).size).toBe(1)
  })

  it('gives each entry its gap-free seq and the epoch its id names', () => {
    const store = new MemoryEventStore()
    const entries = [1, 2, 3].map((n) => store.append(LOG, { data: String(n) }))
    const epoch = entries[0]!.epoch
    expect(epoch).toMatch(/^[0-9a-z]{6}$/)
    expect(entries.map(({ id, seq, epoch }) => ({ id, seq, epoch }))).toEqual(
      [1, 2, 3].map((seq) => ({ id: `${epoch}-${seq}`, seq, epoch })),
    )
  })

  it('keeps event, retry, data and serialized as given', () => {
    const store = new MemoryEventStore()
    const first = store.append(LOG, { data: 'zero' }).id
    const stored = store.append(LOG, { data: 'a\nb', event: 'tick', retry: 0, serialized: true })
    const [read, ...rest] = store.read(LOG, first, ALL).events ?? []
    expect(rest).toEqual([])
    expect(read).toMatchObject({
      id: stored.id,
      seq: 2,
      epoch: stored.epoch,
      data: 'a\nb',
      event: 'tick',
      retry: 0,
      serialized: true,
    })
    expect(read?.end).toBe(undefined)
  })
})

describe('MemoryEventStore named logs', () => {
  it('keeps one log per name, each with its own epoch and sequence', () => {
    const store = new MemoryEventStore()
    const a = fill(store, 3, 'a')
    const b = fill(store, 2, 'b')
    expect(a.map((id) => id.split('-')[1])).toEqual(['1', '2', '3'])
    expect(b.map((id) => id.split('-')[1])).toEqual(['1', '2'])
    expect(a[0]!.split('-')[0]).not.toBe(b[0]!.split('-')[0])
    expect(after(store, undefined, 'a')).toEqual(['e1', 'e2', 'e3'])
    expect(after(store, undefined, 'b')).toEqual(['e1', 'e2'])
    expect(store.logs).toBe(2)
  })

  it("reports an id of another log of the same store as an 'unknown' gap", () => {
    const store = new MemoryEventStore()
    const a = fill(store, 3, 'a')
    fill(store, 3, 'b')
    expect(store.read('b', a[0]!, ALL)).toEqual({ gap: { reason: 'unknown', lastEventId: a[0] } })
  })

  it('reads nothing, and knows nothing, of a name never used', () => {
    const store = new MemoryEventStore()
    expect(store.read('never', undefined, 10)).toEqual({ events: [] })
    expect(store.info('never')).toEqual({ exists: false, ended: false, last: undefined })
    expect(store.logs).toBe(0)
  })

  it('tells where a log is: its last entry, whether it ended', () => {
    const store = new MemoryEventStore()
    const [, second] = [1, 2].map((n) => store.append(LOG, { data: String(n) }))
    expect(store.info(LOG)).toEqual({
      exists: true,
      ended: false,
      last: { id: second!.id, seq: 2, epoch: second!.epoch },
    })
    store.end(LOG)
    expect(store.info(LOG)).toEqual({
      exists: true,
      ended: true,
      last: { id: `${second!.epoch}-3`, seq: 3, epoch: second!.epoch },
    })
  })

  it('refuses names that are empty, too long, or carry control characters or braces', () => {
    const store = new MemoryEventStore()
    for (const name of ['', 'x'.repeat(257), 'a\nb', 'a\0b', '{tag}', 7 as never]) {
      expect(() => store.append(name, { data: 'x' })).toThrow(SseTypeError)
      expect(() => store.append(name, { data: 'x' })).toThrow(/"name"/)
    }
    expect(store.logs).toBe(0)
  })
})

describe('MemoryEventStore.read', () => {
  it('returns exactly the events after the id, in order, at every boundary', () => {
    const store = new MemoryEventStore()
    const ids = fill(store, 5)
    expect(after(store, ids[0]!)).toEqual(['e2', 'e3', 'e4', 'e5'])
    expect(after(store, ids[3]!)).toEqual(['e5'])
    expect(after(store, ids[4]!)).toEqual([])
    expect(store.read(LOG, ids[1]!, ALL).events?.map((e) => e.id)).toEqual(ids.slice(2))
  })

  it('returns at most limit entries, from the oldest retained when there is no id', () => {
    const store = new MemoryEventStore()
    const ids = fill(store, 10)
    expect(store.read(LOG, undefined, 3).events?.map((e) => e.data)).toEqual(['e1', 'e2', 'e3'])
    expect(store.read(LOG, ids[2], 4).events?.map((e) => e.data)).toEqual(['e4', 'e5', 'e6', 'e7'])
    expect(store.read(LOG, ids[7], 4).events?.map((e) => e.data)).toEqual(['e9', 'e10'])
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
      expect(store.read(LOG, id, ALL)).toEqual({ gap: { reason: 'unknown', lastEventId: id } })
    }
  })

  it("reports ids of another store instance as 'unknown' gaps", () => {
    const a = new MemoryEventStore()
    const b = new MemoryEventStore()
    const idA = a.append(LOG, { data: 'a' }).id
    b.append(LOG, { data: 'b' })
    b.append(LOG, { data: 'c' })
    expect(b.read(LOG, idA, ALL)).toEqual({ gap: { reason: 'unknown', lastEventId: idA } })
  })

  it('never throws on hostile input, and truncates what it reports to 1024 characters', () => {
    const store = new MemoryEventStore()
    fill(store, 2)
    const long = 'x'.repeat(20_000)
    expect(store.read(LOG, long, ALL)).toEqual({
      gap: { reason: 'unknown', lastEventId: 'x'.repeat(1024) },
    })
    for (const value of [null, 42, {}]) {
      expect(() => store.read(LOG, value as never, ALL)).not.toThrow()
      expect(store.read(LOG, value as never, ALL).gap?.reason).toBe('unknown')
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (id) => {
        const result = store.read(LOG, id, ALL)
        expect(result.gap?.reason ?? 'events').toMatch(/^(unknown|events)$/)
      }),
    )
  })
})

describe('MemoryEventStore eviction', () => {
  it('keeps the last maxEvents events; a resume from before them is an expired gap', () => {
    const store = new MemoryEventStore({ maxEvents: 3 })
    const ids = fill(store, 5)
    expect(retained(store)).toBe(3)
    // e3, e4, e5 are kept: a client that saw e2 misses nothing.
    expect(after(store, ids[1]!)).toEqual(['e3', 'e4', 'e5'])
    // A client that saw e1 would miss e2: never silently.
    expect(store.read(LOG, ids[0]!, ALL)).toEqual({
      gap: { reason: 'expired', lastEventId: ids[0] },
    })
  })

  it('counts maxEvents per log: a busy log does not evict a quiet one', () => {
    const store = new MemoryEventStore({ maxEvents: 3 })
    const quiet = fill(store, 2, 'quiet')
    fill(store, 50, 'busy')
    expect(retained(store, 'busy')).toBe(3)
    expect(after(store, quiet[0]!, 'quiet')).toEqual(['e2'])
  })

  it('stays correct after dropping and compacting many events', () => {
    const store = new MemoryEventStore({ maxEvents: 10 })
    const ids = fill(store, 5000)
    expect(retained(store)).toBe(10)
    expect(after(store, ids[4989]!)).toEqual(Array.from({ length: 10 }, (_, k) => `e${4991 + k}`))
    expect(after(store, ids[4988]!)).toBe('expired')
    expect(after(store, ids[4999]!)).toEqual([])
  })

  it('drops events older than maxAgeMs', () => {
    vi.useFakeTimers()
    const store = new MemoryEventStore({ maxAgeMs: 1000 })
    const first = store.append(LOG, { data: 'old' }).id
    vi.advanceTimersByTime(600)
    const second = store.append(LOG, { data: 'newer' }).id
    expect(after(store, first)).toEqual(['newer'])
    vi.advanceTimersByTime(400)
    // 'old' is 1000 ms old now: gone. A resume after it still misses nothing.
    expect(retained(store)).toBe(1)
    expect(after(store, first)).toEqual(['newer'])
    vi.advanceTimersByTime(600)
    expect(retained(store)).toBe(0)
    expect(after(store, second)).toEqual([])
    // A client that saw only 'old' missed 'newer', which is gone: expired.
    expect(store.read(LOG, first, ALL)).toEqual({ gap: { reason: 'expired', lastEventId: first } })
  })

  it('keeps the end entry of an ended log however old it gets', () => {
    vi.useFakeTimers()
    const store = new MemoryEventStore({ maxAgeMs: 1000, endedTtlMs: 60_000 })
    const last = store.append(LOG, { data: 'only' }).id
    store.end(LOG)
    vi.advanceTimersByTime(5000)
    expect(store.read(LOG, last, ALL).events?.map((e) => e.end)).toEqual([true])
  })
})

describe('MemoryEventStore.follow', () => {
  it("notifies a log's followers of each entry, in order, as it is appended", () => {
    const store = new MemoryEventStore()
    const one = recorder()
    const other = recorder()
    store.follow('a', one)
    store.follow('b', other)
    const appended = [store.append('a', { data: '1' }), store.append('a', { data: '2' })]
    store.append('b', { data: 'elsewhere' })
    expect(one.entries).toEqual(appended)
    expect(other.entries.map((e) => e.data)).toEqual(['elsewhere'])
  })

  it('counts the same listener following twice as two followers, and unfollows each', () => {
    const store = new MemoryEventStore()
    const r = recorder()
    const off1 = store.follow(LOG, r)
    const off2 = store.follow(LOG, r)
    store.append(LOG, { data: 'twice' })
    off1()
    store.append(LOG, { data: 'once' })
    off2()
    store.append(LOG, { data: 'never' })
    expect(r.entries.map((e) => e.data)).toEqual(['twice', 'twice', 'once'])
  })
})

describe('MemoryEventStore.end', () => {
  it('writes the final event, then the end entry, and notifies followers of both', () => {
    const store = new MemoryEventStore()
    const r = recorder()
    store.follow(LOG, r)
    const first = store.append(LOG, { data: 'work' })
    store.end(LOG, { data: 'done', event: 'final' })
    expect(r.entries.map(({ seq, data, event, end }) => ({ seq, data, event, end }))).toEqual([
      { seq: 1, data: 'work', event: undefined, end: undefined },
      { seq: 2, data: 'done', event: 'final', end: undefined },
      { seq: 3, data: '', event: undefined, end: true },
    ])
    expect(store.read(LOG, first.id, ALL).events?.map((e) => e.seq)).toEqual([2, 3])
  })

  it('refuses appends to an ended log with ERR_SSE_LOG_ENDED, and ends it only once', () => {
    const store = new MemoryEventStore()
    const r = recorder()
    store.follow(LOG, r)
    store.end(LOG)
    store.end(LOG)
    // A final event on an ended log would be lost: refused, not dropped.
    expect(() => store.end(LOG, { data: 'too late' })).toThrow(
      expect.objectContaining({ code: 'ERR_SSE_LOG_ENDED' }),
    )
    expect(() => store.append(LOG, { data: 'x' })).toThrow(
      expect.objectContaining({ code: 'ERR_SSE_LOG_ENDED' }),
    )
    expect(r.entries.map((e) => e.end)).toEqual([true])
  })

  it('forgets an ended log endedTtlMs after it ended, and only then', () => {
    vi.useFakeTimers()
    const store = new MemoryEventStore({ endedTtlMs: 1000 })
    fill(store, 2, 'ended')
    fill(store, 2, 'open')
    store.end('ended')
    vi.advanceTimersByTime(999)
    expect(store.info('ended').ended).toBe(true)
    expect(store.logs).toBe(2)
    vi.advanceTimersByTime(1)
    expect(store.logs).toBe(1)
    expect(store.info('ended')).toEqual({ exists: false, ended: false, last: undefined })
    expect(store.info('open').exists).toBe(true)
  })

  it('expires logs ended at different times each at its own time, with one timer', () => {
    vi.useFakeTimers()
    const store = new MemoryEventStore({ endedTtlMs: 1000 })
    for (const name of ['a', 'b', 'c']) store.append(name, { data: name })
    store.end('a')
    vi.advanceTimersByTime(400)
    store.end('b')
    store.end('c')
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(600)
    expect(['a', 'b', 'c'].map((name) => store.info(name).exists)).toEqual([false, true, true])
    vi.advanceTimersByTime(400)
    expect(store.logs).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('starts a name again with a new epoch once its ended log expired; old ids are unknown', async () => {
    const store = new MemoryEventStore({ endedTtlMs: 5 })
    const old = store.append(LOG, { data: 'first life' })
    store.end(LOG)
    await waitFor(() => store.logs === 0, 2000, 'the ended log expired')
    const again = store.append(LOG, { data: 'second life' })
    expect(again.seq).toBe(1)
    expect(again.epoch).not.toBe(old.epoch)
    expect(store.read(LOG, old.id, ALL)).toEqual({
      gap: { reason: 'unknown', lastEventId: old.id },
    })
  })
})

describe('MemoryEventStore.lease', () => {
  it('lets one producer hold a log: a second lease rejects with ERR_SSE_LEASED', async () => {
    const store = new MemoryEventStore()
    const lease = await store.lease(LOG, 5000)
    await expect(store.lease(LOG, 5000)).rejects.toMatchObject({ code: 'ERR_SSE_LEASED' })
    expect(store.info(LOG).exists).toBe(true)
    await lease.release()
    const next = await store.lease(LOG, 5000)
    expect(next.signal.aborted).toBe(false)
  })

  it('aborts the signal on cancel, and on end', async () => {
    const store = new MemoryEventStore()
    const cancelled = await store.lease('a', 5000)
    const ended = await store.lease('b', 5000)
    store.cancel('a')
    store.end('b')
    expect([cancelled.signal.aborted, ended.signal.aborted]).toEqual([true, true])
    await expect(store.lease('b', 5000)).rejects.toMatchObject({ code: 'ERR_SSE_LOG_ENDED' })
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

  it('rejects a bad endedTtlMs with a message naming it', () => {
    for (const endedTtlMs of [0, -1, 1.5, Number.NaN, '10', null, Number.POSITIVE_INFINITY]) {
      refuses(
        { endedTtlMs },
        /MemoryEventStore option "endedTtlMs" must be a positive integer of milliseconds/,
      )
    }
  })

  it('accepts the defaults, Infinity for maxAgeMs, and keeps 1000 events by default', () => {
    expect(() => new MemoryEventStore({ maxAgeMs: Number.POSITIVE_INFINITY })).not.toThrow()
    const store = new MemoryEventStore()
    fill(store, 1001)
    expect(retained(store)).toBe(1000)
  })
})
