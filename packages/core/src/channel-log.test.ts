/**
 * Channels with a store follow the store's named log: the log is the broker. Channels of the
 * same name are one channel, a replay joins the live tail at an exact position, a log can
 * end (and a client that has it all is answered 204), and one producer can lease it.
 */
import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createChannel } from './channel.js'
import type { StoredEvent, StoreInput } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import type { EventStream } from './stream.js'
import {
  Cleanup,
  type Deferred,
  deferred,
  memoryStream,
  parseSse,
  startServer,
  WrappedStore,
  waitFor,
} from './test-utils/index.js'
import { createEventStream } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** A stream over a memory transport, closed after the test. */
function open(lastEventId?: string) {
  const made = memoryStream({ heartbeat: false }, lastEventId === undefined ? {} : { lastEventId })
  cleanup.add(made.stream, (s) => s.close())
  return made
}

/** The exact frame of an event with an id. */
function frame(id: string | undefined, data: string, event?: string): string {
  return `${event === undefined ? '' : `event: ${event}\n`}id: ${id}\ndata: ${data}\n\n`
}

/** What `fn` threw or rejected with. */
async function failure(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

/**
 * A MemoryEventStore whose `read` waits for `gate` (when set) and records what it was asked.
 * With `late`, the read is taken after the gate opens (it holds what was appended while it
 * waited); else before.
 */
class GatedReadStore extends WrappedStore {
  readonly reads: [after: string | undefined, limit: number][] = []
  reading: Deferred<void> = deferred()
  gate: Deferred<void> | undefined

  constructor(readonly late = false) {
    super()
  }

  override async read(name: string, after: string | undefined, limit: number) {
    this.reads.push([after, limit])
    const early = this.late ? undefined : this.inner.read(name, after, limit)
    this.reading.resolve()
    await this.gate?.promise
    return early ?? this.inner.read(name, after, limit)
  }
}

/** A MemoryEventStore whose appends reach the log only when the test lets each one in. */
class DoorStore extends WrappedStore {
  readonly waiting: { name: string; event: StoreInput; door: Deferred<void> }[] = []

  override async append(name: string, event: StoreInput): Promise<StoredEvent> {
    const door = deferred()
    this.waiting.push({ name, event, door })
    await door.promise
    return this.inner.append(name, event)
  }

  let(i: number): void {
    this.waiting[i]!.door.resolve()
  }
}

describe('channels of one name on one store are one channel', () => {
  it('delivers a publish through either channel object to the subscribers of both, once each, in the log order', async () => {
    const store = new MemoryEventStore()
    const one = createChannel({ name: 'room:1', store })
    const two = createChannel({ name: 'room:1', store })
    const a = open()
    const b = open()
    const c = open()
    await one.subscribe(a.stream)
    await two.subscribe(b.stream)
    await two.subscribe(c.stream)
    const ids = [
      await one.publish('from one'),
      await two.publish({ event: 'tick', data: { n: 2 } }),
      await one.publish('again'),
    ]
    const frames =
      frame(ids[0], 'from one') + frame(ids[1], '{"n":2}', 'tick') + frame(ids[2], 'again')
    for (const { transport } of [a, b, c]) expect(transport.text).toBe(frames)
    expect(store.read('room:1', undefined, 10).events?.map((e) => e.id)).toEqual(ids)
    expect([one.size, two.size]).toEqual([1, 2])
  })

  it('gives every subscriber the order in which the log took the appends, not the order of the calls', async () => {
    const store = new DoorStore()
    const one = createChannel({ name: 'room:1', store })
    const two = createChannel({ name: 'room:1', store })
    const a = open()
    const b = open()
    await one.subscribe(a.stream)
    await two.subscribe(b.stream)
    const published = [one.publish('first call'), two.publish('second call'), one.publish('third')]
    await waitFor(() => store.waiting.length === 3, 1000, 'three appends under way')
    // The log takes the second call first, then the third, then the first.
    for (const i of [1, 2, 0]) store.let(i)
    const ids = await Promise.all(published)
    expect(ids.map((id) => id!.split('-')[1])).toEqual(['3', '1', '2'])
    const frames =
      frame(ids[1], 'second call') + frame(ids[2], 'third') + frame(ids[0], 'first call')
    expect(a.transport.text).toBe(frames)
    expect(b.transport.text).toBe(frames)
  })

  it('keeps channels of different names on one store apart', async () => {
    const store = new MemoryEventStore()
    const news = createChannel({ name: 'news', store })
    const sport = createChannel({ name: 'sport', store })
    const a = open()
    const b = open()
    await news.subscribe(a.stream)
    await sport.subscribe(b.stream)
    const n = await news.publish('headline')
    const s = await sport.publish('score')
    expect(a.transport.text).toBe(frame(n, 'headline'))
    expect(b.transport.text).toBe(frame(s, 'score'))
    // Each log has its own epoch: an id of one is a gap in the other.
    const resumed = open(n)
    const gaps: unknown[] = []
    await sport.subscribe(resumed.stream, { onGap: (gap) => void gaps.push(gap) })
    expect(gaps).toEqual([{ reason: 'unknown', lastEventId: n }])
    expect(resumed.transport.text).toBe('')
  })

  it('serves many names from one store, each a log of its own', async () => {
    const store = new MemoryEventStore()
    const names = Array.from({ length: 100 }, (_, i) => `job:${i}`)
    const readers = names.map((name) => {
      const made = open()
      return { name, ...made, channel: createChannel({ name, store }) }
    })
    for (const r of readers) await r.channel.subscribe(r.stream)
    const ids: (string | undefined)[] = []
    for (const name of names) ids.push(await createChannel({ name, store }).publish(`for ${name}`))
    for (const [i, r] of readers.entries()) {
      expect(r.transport.text).toBe(frame(ids[i], `for ${r.name}`))
    }
    expect(ids.map((id) => id!.split('-')[1])).toEqual(names.map(() => '1'))
    expect(store.logs).toBe(100)
  })

  it("makes unnamed channels with a store the store's 'default' log", async () => {
    const store = new MemoryEventStore()
    const one = createChannel({ store })
    const two = createChannel({ store })
    expect(one.name).toBe('default')
    const a = open()
    await two.subscribe(a.stream)
    const id = await one.publish('shared')
    expect(a.transport.text).toBe(frame(id, 'shared'))
    expect(store.read('default', undefined, 10).events?.map((e) => e.id)).toEqual([id])
  })
})

describe('a replay joins the live tail at an exact position', () => {
  for (const late of [false, true]) {
    it(`gives a subscriber resuming while publishes race its replay every event once, in order (read taken ${late ? 'after' : 'before'} they land)`, async () => {
      const store = new GatedReadStore(late)
      const publisher = createChannel({ name: 'feed', store })
      const reader = createChannel({ name: 'feed', store })
      const live = open()
      await reader.subscribe(live.stream)
      const published: { id: string | undefined; data: string }[] = []
      const publish = async (via: typeof publisher, data: string) => {
        published.push({ id: await via.publish(data), data })
      }
      for (let n = 1; n <= 3; n++) await publish(publisher, `before ${n}`)

      store.gate = deferred()
      const resumed = open(published[0]!.id)
      const subscribing = reader.subscribe(resumed.stream)
      await store.reading.promise
      // Published while the replay is still reading the log, through both channel objects.
      await publish(publisher, 'during 1')
      await publish(reader, 'during 2')
      await publish(publisher, 'during 3')
      expect(resumed.transport.text).toBe('')
      store.gate.resolve()
      await subscribing
      await publish(reader, 'after 1')

      const frames = published.map(({ id, data }) => frame(id, data))
      expect(resumed.transport.text).toBe(frames.slice(1).join(''))
      expect(live.transport.text).toBe(frames.join(''))
      expect(store.reads).toEqual([[published[0]!.id, 500]])
    })
  }

  it('replays more than one batch in reads of 500, whole and in order, then goes live', async () => {
    for (const count of [1001, 1234]) {
      const store = new MemoryEventStore({ maxEvents: 2000 })
      const channel = createChannel({ name: `batches:${count}`, store })
      const ids: (string | undefined)[] = []
      for (let i = 1; i <= count; i++) ids.push(await channel.publish(`e${i}`))
      const read = vi.spyOn(store, 'read')
      const { stream, transport } = open(ids[0])
      await channel.subscribe(stream)
      const live = await channel.publish('live')
      const frames = ids.slice(1).map((id, i) => frame(id, `e${i + 2}`))
      expect(transport.text).toBe(frames.join('') + frame(live, 'live'))
      expect(read.mock.calls).toEqual([
        [`batches:${count}`, ids[0], 500],
        [`batches:${count}`, ids[500], 500],
        [`batches:${count}`, ids[1000], 500],
      ])
    }
  })
})

describe('end()', () => {
  async function endedLog(final?: unknown) {
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'answer:1', store })
    const ids: (string | undefined)[] = []
    for (const data of ['one', 'two', 'three']) ids.push(await channel.publish(data))
    await channel.end(final)
    return { store, channel, ids }
  }

  it('gives every subscriber of the name what came before, then closes its stream', async () => {
    const store = new MemoryEventStore()
    const one = createChannel({ name: 'answer:1', store })
    const two = createChannel({ name: 'answer:1', store })
    const a = open()
    const b = open()
    await one.subscribe(a.stream)
    await two.subscribe(b.stream)
    const ids = [await one.publish('one'), await two.publish('two')]
    await two.end()
    for (const { stream, transport } of [a, b]) {
      expect(transport.text).toBe(frame(ids[0], 'one') + frame(ids[1], 'two'))
      expect(transport.ended).toBe(true)
      expect(stream.closed).toBe(true)
    }
    expect([one.size, two.size]).toEqual([0, 0])
  })

  it('gives a later subscriber without Last-Event-ID the whole retained log, then ends its stream', async () => {
    const { channel, ids } = await endedLog()
    const { stream, transport } = open()
    await channel.subscribe(stream)
    expect(transport.status).toBe(200)
    expect(transport.text).toBe(
      frame(ids[0], 'one') + frame(ids[1], 'two') + frame(ids[2], 'three'),
    )
    expect(transport.ended).toBe(true)
    expect(stream.closed).toBe(true)
  })

  it('answers 204 with no body to a subscriber whose Last-Event-ID is the last event', async () => {
    const { channel, ids } = await endedLog()
    const { stream, transport } = open(ids[2])
    await channel.subscribe(stream)
    expect(transport.status).toBe(204)
    expect(transport.opens).toBe(1)
    expect(transport.text).toBe('')
    expect(transport.ended).toBe(true)
    expect(stream.closed).toBe(true)
    expect(channel.size).toBe(0)
  })

  it('gives a subscriber from the middle of an ended log the rest, then the end', async () => {
    const { channel, ids } = await endedLog()
    const { stream, transport } = open(ids[0])
    await channel.subscribe(stream)
    expect(transport.status).toBe(200)
    expect(transport.text).toBe(frame(ids[1], 'two') + frame(ids[2], 'three'))
    expect(transport.ended).toBe(true)
    expect(stream.closed).toBe(true)
  })

  it('rejects a publish after the end with ERR_SSE_LOG_ENDED, through any channel of the name', async () => {
    const { store, channel } = await endedLog()
    const other = createChannel({ name: 'answer:1', store })
    await expect(channel.publish('late')).rejects.toMatchObject({ code: 'ERR_SSE_LOG_ENDED' })
    await expect(other.publish('late')).rejects.toMatchObject({ code: 'ERR_SSE_LOG_ENDED' })
    expect(store.info('answer:1').last?.seq).toBe(4)
  })

  it('writes the final event before the end', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel<{ message: string; done: { ok: boolean } }>({
      name: 'answer:1',
      store,
    })
    const live = open()
    await channel.subscribe(live.stream)
    const first = await channel.publish('working')
    await channel.end({ event: 'done', data: { ok: true } })
    const [final] = store.read('answer:1', first, 10).events ?? []
    expect(live.transport.text).toBe(
      frame(first, 'working') + frame(final?.id, '{"ok":true}', 'done'),
    )
    expect(live.stream.closed).toBe(true)
    // The client that got the final event has it all.
    const again = open(final?.id)
    await channel.subscribe(again.stream)
    expect(again.transport.status).toBe(204)
  })

  it('ends, after the gap report, the stream of a Last-Event-ID that an ended log cannot resume, giving it the end id', async () => {
    const { channel, store } = await endedLog()
    const endId = store.info('answer:1').last!.id
    for (const lastEventId of ['zzzzzz-1', 'x'.repeat(2000)]) {
      const gaps: unknown[] = []
      const { stream, transport } = open(lastEventId)
      await channel.subscribe(stream, {
        onGap: async (gap, s) => {
          gaps.push(gap)
          await s.send({ event: 'snapshot', data: 'all of it' })
        },
      })
      expect(gaps).toHaveLength(1)
      // An id-only frame: the client's Last-Event-ID becomes the end's, so that its reconnect
      // is answered 204 instead of reporting the same gap forever.
      expect(transport.text).toBe(`event: snapshot\ndata: all of it\n\nid: ${endId}\n\n`)
      const again = open(endId)
      await channel.subscribe(again.stream)
      expect(again.transport.status).toBe(204)
      // Nothing more can come on a log that ended: a stream left open would hang forever.
      expect(stream.closed).toBe(true)
      expect(transport.ended).toBe(true)
    }
  })

  it('makes a browser EventSource stop: its reconnect after the end is answered 204', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'answer:1', store })
    const lastEventIds: (string | undefined)[] = []
    const statuses: number[] = []
    const server = await startServer((req, res) => {
      lastEventIds.push(req.headers['last-event-id'] as string | undefined)
      res.once('finish', () => statuses.push(res.statusCode))
      const stream: EventStream = createEventStream(req, res, { heartbeat: false, retry: 10 })
      void channel.subscribe(stream)
    })
    cleanup.add(server, (s) => s.close())
    const es = cleanup.add(new EventSource(server.url()), (e) => e.close())
    const got: { data: string; id: string }[] = []
    es.onmessage = (e) => got.push({ data: e.data, id: e.lastEventId })
    await waitFor(() => channel.size === 1, 5000, 'the EventSource subscribed')
    const ids = [await channel.publish('one'), await channel.publish('two')]
    await waitFor(() => got.length === 2, 5000, 'two events')
    await channel.end()
    await waitFor(() => es.readyState === EventSource.CLOSED, 5000, 'the EventSource stopped')
    expect(got).toEqual([
      { data: 'one', id: ids[0] },
      { data: 'two', id: ids[1] },
    ])
    expect(lastEventIds).toEqual([undefined, ids[1]])
    await waitFor(() => statuses.length === 2, 5000, 'both responses finished')
    expect(statuses).toEqual([200, 204])
  })
})

describe('exists() and ended()', () => {
  it('are false for a name never used, and asking creates nothing', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'job:unknown', store })
    expect(await channel.exists()).toBe(false)
    expect(await channel.ended()).toBe(false)
    expect(store.logs).toBe(0)
  })

  it('tell a log that exists after a publish, and one that ended after end()', async () => {
    const store = new MemoryEventStore()
    const writer = createChannel({ name: 'job:1', store })
    const reader = createChannel({ name: 'job:1', store })
    await writer.publish('started')
    expect([await reader.exists(), await reader.ended()]).toEqual([true, false])
    await writer.end()
    expect([await reader.exists(), await reader.ended()]).toEqual([true, true])
  })

  it('tell a leased log exists before anything was published to it', async () => {
    const store = new MemoryEventStore()
    const lease = await createChannel({ name: 'job:1', store }).lease()
    cleanup.add(lease, (l) => l.release())
    expect(await createChannel({ name: 'job:1', store }).exists()).toBe(true)
  })

  it('refuse a channel without a store with a TypeError naming the method', async () => {
    const channel = createChannel()
    for (const method of ['exists', 'ended', 'lease', 'cancel'] as const) {
      const error = await failure(() => channel[method]())
      expect(error).toBeInstanceOf(TypeError)
      expect(error).toMatchObject({ code: 'ERR_SSE_INVALID_OPTION' })
      expect((error as Error).message).toMatch(
        new RegExp(`^@ssekit/core: channel\\.${method}\\(\\) needs a channel with a store`),
      )
    }
  })
})

describe('lease()', () => {
  it('refuses a second lease on the same name with ERR_SSE_LEASED, from any channel object', async () => {
    const store = new MemoryEventStore()
    const lease = await createChannel({ name: 'job:1', store }).lease()
    cleanup.add(lease, (l) => l.release())
    await expect(createChannel({ name: 'job:1', store }).lease()).rejects.toMatchObject({
      code: 'ERR_SSE_LEASED',
    })
    // Another name is another log.
    const other = await createChannel({ name: 'job:2', store }).lease()
    expect(other.signal.aborted).toBe(false)
  })

  it('aborts lease.signal on cancel() from another channel object of the same name', async () => {
    const store = new MemoryEventStore()
    const lease = await createChannel({ name: 'job:1', store }).lease()
    const aborted = vi.fn()
    lease.signal.addEventListener('abort', aborted)
    await createChannel({ name: 'job:2', store }).cancel()
    expect(lease.signal.aborted).toBe(false)
    await createChannel({ name: 'job:1', store }).cancel()
    expect(lease.signal.aborted).toBe(true)
    expect(aborted).toHaveBeenCalledTimes(1)
  })

  it('lets another producer take the lease after release()', async () => {
    const store = new MemoryEventStore()
    const first = await createChannel({ name: 'job:1', store }).lease()
    await first.release()
    const second = await createChannel({ name: 'job:1', store }).lease()
    expect(second.signal.aborted).toBe(false)
    expect(first.signal.aborted).toBe(false)
  })

  it('aborts the lease when the log ends', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'job:1', store })
    const lease = await channel.lease({ ttlMs: 1000 })
    await channel.publish('working')
    await createChannel({ name: 'job:1', store }).end()
    expect(lease.signal.aborted).toBe(true)
  })

  it('throws a TypeError naming "ttlMs" for a ttlMs out of range', async () => {
    const channel = createChannel({ name: 'job:1', store: new MemoryEventStore() })
    for (const ttlMs of [0, 99, 1.5, 3_600_001, Number.NaN]) {
      const error = await failure(() => channel.lease({ ttlMs }))
      expect(error).toBeInstanceOf(TypeError)
      expect((error as Error).message).toContain('"ttlMs"')
    }
  })
})

describe('channel names', () => {
  it('throws a TypeError naming "name" for a name that is empty, 300 characters long, or holds a line break or a brace', () => {
    for (const name of ['', 'x'.repeat(300), 'answer:\n1', 'answer:{1}', 'a\rb', 'a\u0000b']) {
      let thrown: unknown
      try {
        createChannel({ name, store: new MemoryEventStore() })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(TypeError)
      expect(thrown).toMatchObject({ code: 'ERR_SSE_INVALID_OPTION' })
      expect((thrown as Error).message).toMatch(/^@ssekit\/core: channel "name" must be /)
    }
  })

  it('accepts names of 1 to 256 characters, with colons, slashes and any letters', () => {
    for (const name of ['a', 'x'.repeat(256), 'answer:42', 'user/7/inbox', 'réponse:名前']) {
      expect(createChannel({ name, store: new MemoryEventStore() }).name).toBe(name)
    }
  })
})

describe('careless input', () => {
  it('refuses an id on a channel with a store: the store assigns ids', async () => {
    const channel = createChannel({ name: 'ids', store: new MemoryEventStore() })
    expect(() => channel.publish({ id: 5, data: 'x' })).toThrow(
      /event "id" is assigned by the store/,
    )
  })

  it('refuses a typo in channel, subscribe, lease, retry and store options, naming it', async () => {
    expect(() => createChannel({ maxSubscriber: 5 } as never)).toThrow(
      /unknown channel option "maxSubscriber"/,
    )
    expect(() => new MemoryEventStore({ maxEvent: 5 } as never)).toThrow(
      /unknown MemoryEventStore option "maxEvent"/,
    )
    const channel = createChannel({ name: 'typos', store: new MemoryEventStore() })
    const { stream } = open()
    await expect(channel.subscribe(stream, { filtr: () => true } as never)).rejects.toThrow(
      /unknown subscribe option "filtr"/,
    )
    await expect(channel.lease({ ttl: 5 } as never)).rejects.toThrow(/unknown lease option "ttl"/)
    expect(() => memoryStream({ retry: { ms: 1000, jiter: 5 } as never })).toThrow(
      /unknown option retry "jiter"/,
    )
  })

  it('refuses a filter on a channel whose custom serializer has no deserializer', async () => {
    const channel = createChannel({
      name: 'wrapped',
      store: new MemoryEventStore(),
      serializer: (v) => JSON.stringify({ json: v }),
    })
    const { stream } = open()
    await expect(channel.subscribe(stream, { filter: () => true })).rejects.toThrow(
      /custom "serializer" needs the matching "deserializer"/,
    )
    const fixed = createChannel({
      name: 'wrapped',
      store: new MemoryEventStore(),
      serializer: (v) => JSON.stringify({ json: v }),
      deserializer: (text) => (JSON.parse(text) as { json: unknown }).json,
    })
    const seen: unknown[] = []
    const other = open()
    await fixed.subscribe(other.stream, { filter: (e) => seen.push(e.data) > 0 })
    await fixed.publish({ level: 'high' })
    expect(seen).toEqual([{ level: 'high' }])
  })

  it("gives a subscriber with from: 'start' the whole retained log, then live events", async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'answer:2', store })
    const a = await channel.publish('Hello')
    const b = await channel.publish('world')
    const { stream, transport } = open()
    await channel.subscribe(stream, { from: 'start' })
    const c = await channel.publish('!')
    expect(transport.text).toBe(
      `id: ${a}\ndata: Hello\n\nid: ${b}\ndata: world\n\nid: ${c}\ndata: !\n\n`,
    )
    const live = open()
    await channel.subscribe(live.stream)
    expect(live.transport.text).toBe('')
  })
})

describe('produce()', () => {
  it('runs the producer in the background and ends the log with what it returns', async () => {
    const store = new MemoryEventStore()
    const answer = createChannel<{ token: string; done: { usage: number } }>({
      name: 'answer:p1',
      store,
    })
    const gate = deferred()
    const { done } = await answer.produce(async () => {
      await answer.publish({ event: 'token', data: 'Hel' })
      await gate.promise
      await answer.publish({ event: 'token', data: 'lo' })
      return { event: 'done', data: { usage: 2 } }
    })
    // Readers can join while it runs, and get it from the start.
    const { stream, transport } = open()
    await answer.subscribe(stream, { from: 'start' })
    gate.resolve()
    await done
    expect(stream.closed).toBe(true)
    expect(parseSse(transport.text).events.map((e) => [e.event, e.data])).toEqual([
      ['token', 'Hel'],
      ['token', 'lo'],
      ['done', '{"usage":2}'],
    ])
    expect(await answer.ended()).toBe(true)
  })

  it('ends the log with an error event when the producer throws, and reports the error', async () => {
    const errors: unknown[] = []
    const answer = createChannel({
      name: 'answer:p2',
      store: new MemoryEventStore(),
      onError: (e) => errors.push(e),
    })
    const { done } = await answer.produce(async () => {
      await answer.publish('partial')
      throw new Error('model failed')
    })
    await done
    const { stream, transport } = open()
    await answer.subscribe(stream)
    expect(parseSse(transport.text).events.map((e) => [e.event, e.data])).toEqual([
      [undefined, 'partial'],
      ['error', '{"reason":"failed"}'],
    ])
    expect((errors[0] as Error).message).toBe('model failed')
  })

  it('aborts the producer on a cancel from another channel object, ending with cancelled', async () => {
    const store = new MemoryEventStore()
    const answer = createChannel({ name: 'answer:p3', store })
    const { done } = await answer.produce(
      (signal) =>
        new Promise<undefined>((resolve) =>
          signal.addEventListener('abort', () => resolve(undefined)),
        ),
    )
    await createChannel({ name: 'answer:p3', store }).cancel()
    await done
    const { stream, transport } = open()
    await answer.subscribe(stream)
    expect(transport.text).toMatch(/^event: error\nid: \S+\ndata: \{"reason":"cancelled"\}\n\n$/)
  })
})

describe('ending twice', () => {
  it('does nothing the second time, but refuses a second final event rather than lose it', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'twice', store })
    await channel.end({ data: 'first' })
    await channel.end()
    await expect(channel.end({ data: 'second' })).rejects.toMatchObject({
      code: 'ERR_SSE_LOG_ENDED',
    })
    expect(store.read('twice', undefined, 10).events?.map((e) => e.data)).toEqual(['first', ''])
  })
})

describe('produce() when cancelled', () => {
  it('ends with the cancelled error even when the producer returns a final event on its way out', async () => {
    const store = new MemoryEventStore()
    const answer = createChannel<{ token: string; done: { usage: number } }>({
      name: 'answer:c1',
      store,
    })
    const errors: unknown[] = []
    const { done } = await answer.produce(async (signal) => {
      await answer.publish({ event: 'token', data: 'Hel' })
      await new Promise((resolve) => signal.addEventListener('abort', resolve))
      return { event: 'done', data: { usage: 1 } }
    })
    await createChannel({ name: 'answer:c1', store, onError: (e) => errors.push(e) }).cancel()
    await done
    const events = store.read('answer:c1', undefined, 10).events ?? []
    expect(events.map((e) => [e.event, e.data])).toEqual([
      ['token', 'Hel'],
      ['error', '{"reason":"cancelled"}'],
      [undefined, ''],
    ])
  })

  it('reports nothing when the producer stops by throwing the abort', async () => {
    const errors: unknown[] = []
    const store = new MemoryEventStore()
    const answer = createChannel({ name: 'answer:c2', store, onError: (e) => errors.push(e) })
    const { done } = await answer.produce(async (signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve))
      signal.throwIfAborted()
    })
    await answer.cancel()
    await done
    expect(errors).toEqual([])
    expect(store.read('answer:c2', undefined, 10).events?.[0]?.data).toBe('{"reason":"cancelled"}')
  })
})
