/**
 * The LogHub follows a named log once per process and delivers its entries to every
 * subscriber exactly once, in the log's order, however the store's notifications arrive:
 * a gap in their sequence is refilled from the log, never skipped.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createChannel } from './channel.js'
import { LogHub } from './log-hub.js'
import type { Gap, LogListener, StoredEvent } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import type { EventStream } from './stream.js'
import {
  Cleanup,
  type Deferred,
  deferred,
  memoryStream,
  parseSse,
  WrappedStore,
  waitFor,
} from './test-utils/index.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** What happens to one notification of a new entry. */
type Fate = 'deliver' | 'drop' | 'twice' | 'hold'

/**
 * A MemoryEventStore whose notifications to followers the test can drop, duplicate or hold
 * back (to release later, in any order), and which can lose all its logs at once (a Redis
 * that restarted empty). Appends, reads and infos are the memory store's own.
 */
class FlakyStore extends WrappedStore {
  /** Fates of the next notifications, in order; 'deliver' once they run out. */
  fates: Fate[] = []
  readonly held: (() => void)[] = []
  readonly #follows = new Set<{ name: string; listener: LogListener; off: () => void }>()
  follows = 0

  override follow(name: string, listener: LogListener): () => void {
    this.follows++
    const follow = { name, listener, off: this.#attach(name, listener) }
    this.#follows.add(follow)
    return () => {
      follow.off()
      this.#follows.delete(follow)
    }
  }

  /** Followers attached right now. */
  get followers(): number {
    return this.#follows.size
  }

  /** Releases the held notifications in the given order (indexes into `held`). */
  release(order: number[] = this.held.map((_, i) => i)): void {
    const held = this.held.splice(0)
    for (const i of order) held[i]!()
  }

  /** Tells every follower the store was cut off and is back. */
  resync(): void {
    for (const { listener } of this.#follows) listener.resync()
  }

  /** Loses every log: what is appended next starts new logs, with new epochs. */
  lose(): void {
    this.inner = new MemoryEventStore()
    for (const follow of this.#follows) follow.off = this.#attach(follow.name, follow.listener)
  }

  #attach(name: string, listener: LogListener): () => void {
    return this.inner.follow(name, {
      entry: (entry) => this.#notify(listener, entry),
      resync: () => listener.resync(),
    })
  }

  #notify(listener: LogListener, entry: StoredEvent): void {
    const fate = this.fates.shift() ?? 'deliver'
    if (fate === 'deliver' || fate === 'twice') listener.entry(entry)
    if (fate === 'twice') listener.entry(entry)
    if (fate === 'hold') this.held.push(() => listener.entry(entry))
  }
}

/** A stream over a memory transport, closed after the test. */
function open(lastEventId?: string) {
  const made = memoryStream({ heartbeat: false }, lastEventId === undefined ? {} : { lastEventId })
  cleanup.add(made.stream, (s) => s.close())
  return made
}

function frame(id: string | undefined, data: string): string {
  return `id: ${id}\ndata: ${data}\n\n`
}

/** Three subscribers of 'feed' on `store`, over two channel objects. */
async function subscribers(store: FlakyStore, onGap?: (gap: Gap, s: EventStream) => void) {
  const one = createChannel({ name: 'feed', store, onGap })
  const two = createChannel({ name: 'feed', store, onGap })
  const streams = [open(), open(), open()]
  await one.subscribe(streams[0]!.stream)
  await two.subscribe(streams[1]!.stream)
  await two.subscribe(streams[2]!.stream)
  return { one, two, streams }
}

describe('LogHub', () => {
  it('refills a dropped notification from the log: every subscriber gets every event once, in order', async () => {
    const store = new FlakyStore()
    const { one, two, streams } = await subscribers(store)
    const read = vi.spyOn(store, 'read')
    store.fates = ['deliver', 'drop', 'drop', 'deliver']
    const ids = [
      await one.publish('1'),
      await two.publish('2'),
      await one.publish('3'),
      await two.publish('4'),
    ]
    const frames = ids.map((id, i) => frame(id, String(i + 1))).join('')
    await waitFor(() => streams.every((s) => s.transport.text.length >= frames.length), 1000)
    for (const { transport } of streams) expect(transport.text).toBe(frames)
    // One refill, from the last entry delivered, for all three subscribers.
    expect(read.mock.calls).toEqual([['feed', ids[0], 500]])
  })

  it('writes a notification that comes twice once', async () => {
    const store = new FlakyStore()
    const { one, streams } = await subscribers(store)
    store.fates = ['twice', 'twice']
    const ids = [await one.publish('1'), await one.publish('2')]
    const last = await one.publish('3')
    const frames = frame(ids[0], '1') + frame(ids[1], '2') + frame(last, '3')
    await waitFor(() => streams.every((s) => s.transport.text.length >= frames.length), 1000)
    for (const { transport } of streams) expect(transport.text).toBe(frames)
  })

  it('puts notifications that come out of order back in the log order', async () => {
    const store = new FlakyStore()
    const { one, streams } = await subscribers(store)
    const read = vi.spyOn(store, 'read')
    // Held back, then released in reverse, with nothing else to reveal the gap.
    store.fates = ['hold', 'hold', 'hold']
    const ids = [await one.publish('1'), await one.publish('2'), await one.publish('3')]
    expect(streams[0]!.transport.text).toBe('')
    store.release([2, 1, 0])
    const frames = ids.map((id, i) => frame(id, String(i + 1))).join('')
    await waitFor(() => streams.every((s) => s.transport.text.length >= frames.length), 1000)
    for (const { transport } of streams) expect(transport.text).toBe(frames)
    // Nothing was written twice: the next event follows at once.
    const last = await one.publish('4')
    for (const { transport } of streams) expect(transport.text).toBe(frames + frame(last, '4'))
    expect(read).toHaveBeenCalled()
  })

  it('delivers the log exactly once, in order, whatever is dropped, doubled or reordered (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Fate>('deliver', 'drop', 'twice', 'hold'), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
        async (fates, keys) => {
          const store = new FlakyStore()
          const { one, two, streams } = await subscribers(store)
          store.fates = [...fates]
          const ids: (string | undefined)[] = []
          for (const [i] of fates.entries()) {
            ids.push(await (i % 2 === 0 ? one : two).publish(String(i)))
          }
          // Held notifications come back late, in an order drawn by fast-check.
          const order = store.held.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]!)
          store.release(order)
          // A last notification that arrives: it reveals any gap still open.
          ids.push(await one.publish('last'))
          const frames =
            fates.map((_, i) => frame(ids[i], String(i))).join('') + frame(ids.at(-1), 'last')
          await waitFor(() => streams.every((s) => s.transport.text.length >= frames.length), 1000)
          for (const { transport, stream } of streams) {
            expect(transport.text).toBe(frames)
            stream.close()
          }
        },
      ),
      { numRuns: 50 },
    )
  })

  it('catches up from the log on resync(), after notifications were lost while cut off', async () => {
    const store = new FlakyStore()
    const { one, streams } = await subscribers(store)
    store.fates = ['drop', 'drop', 'drop']
    const ids = [await one.publish('1'), await one.publish('2'), await one.publish('3')]
    expect(streams[0]!.transport.text).toBe('')
    store.resync()
    const frames = ids.map((id, i) => frame(id, String(i + 1))).join('')
    await waitFor(() => streams.every((s) => s.transport.text.length >= frames.length), 1000)
    for (const { transport } of streams) expect(transport.text).toBe(frames)
  })

  it('reports to onGap what it cannot refill because the log no longer keeps it, then goes on from the oldest kept', async () => {
    const store = new FlakyStore(new MemoryEventStore({ maxEvents: 2 }))
    const gaps: Gap[] = []
    const { one, streams } = await subscribers(store, (gap, s) => {
      gaps.push(gap)
      void s.send({ event: 'snapshot', data: 'state' })
    })
    const first = await one.publish('1')
    store.fates = ['drop', 'drop', 'drop', 'drop']
    const ids = [first]
    for (const data of ['2', '3', '4', '5', '6']) ids.push(await one.publish(data))
    // Only 5 and 6 are kept: 2, 3 and 4 are gone, and the subscribers are told so.
    const expected = `${frame(ids[0], '1')}event: snapshot\ndata: state\n\n${frame(ids[4], '5')}${frame(ids[5], '6')}`
    await waitFor(() => streams.every((s) => s.transport.text.length >= expected.length), 1000)
    for (const { transport } of streams) expect(transport.text).toBe(expected)
    expect(gaps).toEqual(streams.map(() => ({ reason: 'expired', lastEventId: first })))
  })

  it('reports a new epoch (the log was lost) to live subscribers through onGap, then delivers the new log', async () => {
    const store = new FlakyStore()
    const gaps: [Gap, EventStream][] = []
    const { one, two, streams } = await subscribers(store, (gap, s) => {
      gaps.push([gap, s])
      void s.send({ event: 'snapshot', data: 'state' })
    })
    const before = await one.publish('before')
    store.lose()
    const after = await two.publish('after')
    expect(after).not.toBe(before)
    expect(after!.split('-')[1]).toBe('1')
    for (const { transport } of streams) {
      expect(transport.text).toBe(
        `${frame(before, 'before')}event: snapshot\ndata: state\n\n${frame(after, 'after')}`,
      )
    }
    expect(gaps.map(([gap]) => gap)).toEqual(
      streams.map(() => ({ reason: 'unknown', lastEventId: before })),
    )
    expect(gaps.map(([, s]) => s)).toEqual(streams.map((s) => s.stream))
  })

  it('delivers to a subscriber whose replay was under way when the log was lost the events of the new log', async () => {
    const store = new (class extends FlakyStore {
      gate: Deferred<void> | undefined
      reading = deferred()
      override async read(name: string, after: string | undefined, limit: number) {
        this.reading.resolve()
        await this.gate?.promise
        return this.inner.read(name, after, limit)
      }
    })()
    const channel = createChannel({ name: 'feed', store })
    const first = await channel.publish('one')
    await channel.publish('two')
    store.gate = deferred()
    const gaps: Gap[] = []
    const { stream, transport } = open(first)
    const subscribing = channel.subscribe(stream, { onGap: (gap) => void gaps.push(gap) })
    await store.reading.promise
    store.lose()
    const after = await channel.publish('after the loss')
    store.gate.resolve()
    await subscribing
    expect(gaps.length).toBeGreaterThan(0)
    expect(parseSse(transport.text).events).toEqual([{ id: after, data: 'after the loss' }])
  })
})

describe('LogHub registry', () => {
  it('follows a log once per store and name, however many channels and subscribers', async () => {
    const store = new FlakyStore()
    await subscribers(store)
    const other = open()
    await createChannel({ name: 'other', store }).subscribe(other.stream)
    expect(store.follows).toBe(2)
    expect(store.followers).toBe(2)
  })

  it('holds nothing once the subscribers left: the log is unfollowed, the next one starts afresh', async () => {
    const store = new FlakyStore()
    const { one, streams } = await subscribers(store)
    await one.publish('x')
    streams[0]!.transport.disconnect()
    streams[1]!.stream.close()
    expect(store.followers).toBe(1)
    streams[2]!.stream.close()
    expect(store.followers).toBe(0)
    const onError = () => {}
    const hub = LogHub.acquire(store, 'feed', onError)
    expect(store.follows).toBe(2)
    // The same hub for a second acquire while held, a new one once released.
    expect(LogHub.acquire(store, 'feed', onError)).toBe(hub)
    hub.release({ take() {}, lost() {} })
    hub.release({ take() {}, lost() {} })
    expect(store.followers).toBe(0)
    const next = LogHub.acquire(store, 'feed', onError)
    expect(next).not.toBe(hub)
    next.release({ take() {}, lost() {} })
  })

  it('gives a hub that starts on a log the position of its last entry', async () => {
    const store = new MemoryEventStore()
    const last = store.append('feed', { data: 'x' })
    const hub = LogHub.acquire(store, 'feed', () => {})
    await hub.ready
    expect(hub.position).toEqual({ id: last.id, seq: 1, epoch: last.epoch })
    expect(hub.ended).toBe(false)
    hub.release({ take() {}, lost() {} })
  })
})
