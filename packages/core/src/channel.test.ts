import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Broker, type BrokerMessage, MemoryBroker } from './broker.js'
import { type ChannelOptions, createChannel } from './channel.js'
import { getMetrics } from './metrics.js'
import type { StreamOptions } from './options.js'
import type { StoredEvent, StoreInput } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import {
  type Deferred,
  deferred,
  type MemoryTransport,
  memoryStream,
  WrappedStore,
} from './test-utils/index.js'

const opened: { close(): void }[] = []
afterEach(() => {
  for (const s of opened.splice(0)) s.close()
  vi.restoreAllMocks()
})

/** An open stream over a memory transport, closed after the test. */
async function open(options: StreamOptions = {}, lastEventId?: string) {
  const made = memoryStream(
    { heartbeat: false, ...options },
    lastEventId === undefined ? {} : { lastEventId },
  )
  opened.push(made.stream)
  return made
}

/** Lets end-of-tick opens and settled promises run. */
const microtasks = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

/**
 * A MemoryEventStore whose appends reach the log (and its followers) at once, in call order,
 * but settle when the test says, in any order.
 */
class GatedStore extends WrappedStore {
  readonly pending: { entry: StoredEvent; gate: Deferred<StoredEvent> }[] = []

  override append(name: string, event: StoreInput): Promise<StoredEvent> {
    const entry = this.inner.append(name, event)
    const gate = deferred<StoredEvent>()
    this.pending.push({ entry, gate })
    return gate.promise
  }

  settle(i: number): void {
    const p = this.pending[i]!
    p.gate.resolve(p.entry)
  }
}

describe('MemoryBroker', () => {
  it('carries publishes between two channels of the same name, in the same order everywhere', async () => {
    const broker = new MemoryBroker()
    const one = createChannel({ name: 'prices', broker })
    const two = createChannel({ name: 'prices', broker })
    const other = createChannel({ name: 'news', broker })
    const a = await open()
    const b = await open()
    const c = await open()
    await one.subscribe(a.stream)
    await two.subscribe(b.stream)
    await other.subscribe(c.stream)

    await one.publish('from one')
    await two.publish({ event: 'tick', data: { n: 2 } })
    await one.publish({ id: '3', data: 'again' })
    const frames = 'data: from one\n\nevent: tick\ndata: {"n":2}\n\nid: 3\ndata: again\n\n'
    expect(a.transport.text).toBe(frames)
    expect(b.transport.text).toBe(frames)
    expect(c.transport.text).toBe('')
  })

  it('gives filters the deserialized data of an event that came through the broker', async () => {
    const broker = new MemoryBroker()
    const one = createChannel<{ message: { n: number } | string }>({ name: 'jobs', broker })
    const two = createChannel<{ message: { n: number } | string }>({ name: 'jobs', broker })
    const seen: unknown[] = []
    const { stream, transport } = await open()
    await two.subscribe(stream, {
      filter: (event) => {
        seen.push(event.data)
        return typeof event.data === 'object' && event.data.n > 1
      },
    })
    await one.publish({ n: 1 })
    await one.publish({ n: 2 })
    await one.publish('{"text": "a string stays a string"}')
    expect(seen).toEqual([{ n: 1 }, { n: 2 }, '{"text": "a string stays a string"}'])
    expect(transport.text).toBe('data: {"n":2}\n\n')
  })

  it('gives a filter the same value on replay as live: the payload, a string staying a string', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel<{ message: { n: number } | string }>({ store })
    const live: unknown[] = []
    const replayed: unknown[] = []
    const first = await open()
    await channel.subscribe(first.stream, {
      filter: (event) => {
        live.push(event.data)
        return true
      },
    })
    const start = await channel.publish('start')
    await channel.publish({ n: 1 })
    await channel.publish('42')
    await channel.publish('{"looks":"like json"}')
    const again = await open({}, start)
    await channel.subscribe(again.stream, {
      filter: (event) => {
        replayed.push(event.data)
        return true
      },
    })
    expect(live).toEqual(['start', { n: 1 }, '42', '{"looks":"like json"}'])
    expect(replayed).toEqual(live.slice(1))
  })

  it('unsubscribes from the broker when the channel closes', async () => {
    const inner = new MemoryBroker()
    const unsubscribed: string[] = []
    const broker: Broker = {
      publish: (topic, message: BrokerMessage) => inner.publish(topic, message),
      subscribe: (topic, fn) => {
        const off = inner.subscribe(topic, fn)
        return () => {
          unsubscribed.push(topic)
          return off()
        }
      },
    }
    const one = createChannel({ name: 'prices', broker })
    const two = createChannel({ name: 'prices', broker })
    const { stream, transport } = await open()
    await two.subscribe(stream)
    one.close()
    await microtasks()
    expect(unsubscribed).toEqual(['prices'])
    await two.publish('still here')
    expect(transport.text).toBe('data: still here\n\n')
  })
})

describe('publish', () => {
  it("delivers in the log's order (the publish order), whatever order an async store's appends settle in", async () => {
    const store = new GatedStore()
    const channel = createChannel({ store })
    const { stream, transport } = await open()
    await channel.subscribe(stream)
    const ids = ['a', 'b', 'c'].map((data) => channel.publish(data))
    store.settle(2)
    store.settle(1)
    await microtasks(20)
    // The log has all three, in publish order: that is what every subscriber gets.
    const frames = ['a', 'b', 'c']
      .map((data, i) => `id: ${store.pending[i]!.entry.id}\ndata: ${data}\n\n`)
      .join('')
    expect(transport.text).toBe(frames)
    store.settle(0)
    const resolved = await Promise.all(ids)
    // Each publish resolves to the id of its own entry.
    expect(resolved).toEqual(store.pending.map((p) => p.entry.id))
    expect(store.pending.map((p) => p.entry.seq)).toEqual([1, 2, 3])
    expect(transport.text).toBe(frames)
  })

  it('delivers at once with a synchronous store (or none), before the promise settles', async () => {
    const channel = createChannel({ store: new MemoryEventStore() })
    const { stream, transport } = await open()
    await channel.subscribe(stream)
    const id = channel.publish('now')
    expect(transport.text).toMatch(/^id: [0-9a-z]+-1\ndata: now\n\n$/)
    expect(transport.text).toBe(`id: ${await id}\ndata: now\n\n`)
  })

  it('serializes and encodes once, and writes the very same bytes to every subscriber', async () => {
    const serializer = vi.fn((value: unknown) => JSON.stringify(value))
    const channel = createChannel({ serializer })
    const subscribers = await Promise.all([open(), open(), open(), open()])
    for (const { stream } of subscribers) await channel.subscribe(stream)
    await microtasks()
    // Either way of turning text into bytes counts: one call per publish, not per subscriber.
    const encode = vi.spyOn(TextEncoder.prototype, 'encode')
    const encodeInto = vi.spyOn(TextEncoder.prototype, 'encodeInto')
    await channel.publish({ data: { n: 1 } })
    await channel.publish({ data: { n: 2 } })
    expect(serializer).toHaveBeenCalledTimes(2)
    expect(encode.mock.calls.length + encodeInto.mock.calls.length).toBe(2)
    const written = subscribers.map(({ transport }) => transport.chunks)
    for (const chunks of written) {
      expect(chunks).toHaveLength(2)
      expect(chunks[0]).toBe(written[0]![0])
      expect(chunks[1]).toBe(written[0]![1])
    }
    expect(new TextDecoder().decode(written[0]![1])).toBe('data: {"n":2}\n\n')
  })

  it('counts one publish however many subscribers it reaches', async () => {
    const channel = createChannel()
    const subscribers = await Promise.all([open(), open(), open()])
    for (const { stream } of subscribers) await channel.subscribe(stream)
    const before = getMetrics()
    await channel.publish('x')
    expect(getMetrics().eventsPublished - before.eventsPublished).toBe(1)
    expect(getMetrics().eventsSent - before.eventsSent).toBe(3)
  })

  it('throws at once for a field that cannot be written, before the store sees it', () => {
    const store = new MemoryEventStore()
    const append = vi.spyOn(store, 'append')
    const channel = createChannel({ store })
    expect(() => channel.publish({ event: 'a\nb', data: 1 })).toThrow(TypeError)
    expect(() => channel.publish({ retry: -1, data: 1 })).toThrow(/retry/)
    expect(append).not.toHaveBeenCalled()
  })

  it('reports a throwing filter to onError and still delivers to the others', async () => {
    const onError = vi.fn()
    const channel = createChannel({ onError })
    const failure = new Error('bad filter')
    const a = await open()
    const b = await open()
    await channel.subscribe(a.stream, {
      filter: () => {
        throw failure
      },
    })
    await channel.subscribe(b.stream)
    await channel.publish('x')
    expect(onError).toHaveBeenCalledWith(failure)
    expect(a.transport.text).toBe('')
    expect(b.transport.text).toBe('data: x\n\n')
  })
})

describe('options', () => {
  const invalid: [string, unknown][] = [
    ['maxSubscribers', { maxSubscribers: -1 }],
    ['maxSubscribers', { maxSubscribers: 1.5 }],
    ['maxSubscribers', { maxSubscribers: '3' }],
    ['maxSubscribers', { maxSubscribers: Number.NaN }],
    ['name', { name: '' }],
    ['name', { broker: new MemoryBroker() }],
    ['broker', { name: 'x', broker: {} }],
    ['broker', { name: 'x', broker: new MemoryBroker(), store: new MemoryEventStore() }],
    ['store', { store: { append() {} } }],
    ['event', { event: 'a\nb' }],
    ['event', { event: 7 }],
    ['serializer', { serializer: 'json' }],
    ['deserializer', { deserializer: {} }],
    ['authorize', { authorize: true }],
    ['onGap', { onGap: 1 }],
    ['onError', { onError: 'log' }],
    ['options', null],
  ]
  for (const [name, options] of invalid) {
    it(`throws a TypeError naming "${name}" for ${JSON.stringify(options)}`, () => {
      let thrown: unknown
      try {
        createChannel(options as ChannelOptions)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(TypeError)
      expect(thrown).toMatchObject({ code: 'ERR_SSE_INVALID_OPTION' })
      expect((thrown as Error).message).toContain(`"${name}"`)
      expect((thrown as Error).message).toMatch(/^@ssekit\/core: /)
    })
  }

  it('accepts maxSubscribers 0 (everyone turned away) and Infinity', async () => {
    expect(createChannel({ maxSubscribers: Number.POSITIVE_INFINITY }).size).toBe(0)
    const none = createChannel({ maxSubscribers: 0 })
    const { stream, transport } = await open({ limitRetry: 1234 })
    expect(await none.subscribe(stream)).toBeTypeOf('function')
    expect(none.size).toBe(0)
    expect(transport.status).toBe(200)
    expect(transport.text).toBe('retry: 1234\n\n')
    expect(transport.ended).toBe(true)
  })

  it("copies the caller's options", async () => {
    const options: ChannelOptions = { event: 'first' }
    const channel = createChannel(options)
    options.event = 'second'
    const { stream, transport } = await open()
    await channel.subscribe(stream)
    await channel.publish('x')
    expect(transport.text).toBe('event: first\ndata: x\n\n')
  })

  it('rejects a filter that is not a function, naming it', async () => {
    const channel = createChannel()
    const { stream } = await open()
    await expect(channel.subscribe(stream, { filter: 'x' as never })).rejects.toThrow(
      /subscribe option "filter" must be a function/,
    )
    expect(channel.size).toBe(0)
  })

  it('rejects an invalid close retry without closing the channel', () => {
    const channel = createChannel()
    expect(() => channel.close({ retry: -1 })).toThrow(TypeError)
    expect(channel.closed).toBe(false)
  })
})

describe('replay has one owner', () => {
  it('refuses a stream with its own store on a channel with a store', async () => {
    const channel = createChannel({ store: new MemoryEventStore() })
    const { stream } = await open({ store: new MemoryEventStore() })
    const subscribing = channel.subscribe(stream)
    await expect(subscribing).rejects.toBeInstanceOf(TypeError)
    await expect(subscribing).rejects.toMatchObject({ code: 'ERR_SSE_INVALID_OPTION' })
    await expect(subscribing).rejects.toThrow(/replay has one owner/)
    expect(channel.size).toBe(0)
  })

  it('lets a stream with its own store join a channel without one', async () => {
    const channel = createChannel()
    const { stream, transport } = await open({ store: new MemoryEventStore() })
    await channel.subscribe(stream)
    await channel.publish('broadcast')
    await stream.send('own')
    expect(transport.text).toMatch(/^data: broadcast\n\nid: [0-9a-z]+-1\ndata: own\n\n$/)
  })
})

describe('subscriptions', () => {
  it('subscribes a stream once however often it is subscribed', async () => {
    const channel = createChannel()
    const { stream, transport } = await open()
    await channel.subscribe(stream)
    const again = await channel.subscribe(stream)
    await channel.publish('once')
    expect(channel.size).toBe(1)
    expect(transport.text).toBe('data: once\n\n')
    // What the second subscribe returned takes the one subscription off.
    again()
    expect(channel.size).toBe(0)
    await channel.publish('gone')
    expect(transport.text).toBe('data: once\n\n')
  })

  it('never admits more than maxSubscribers while authorize decisions are pending', async () => {
    const verdicts: Deferred<boolean>[] = []
    const channel = createChannel({
      maxSubscribers: 1,
      authorize: () => {
        const verdict = deferred<boolean>()
        verdicts.push(verdict)
        return verdict.promise
      },
    })
    const a = memoryStream({ heartbeat: false, limitRetry: 500 })
    const b = memoryStream({ heartbeat: false, limitRetry: 500 })
    opened.push(a.stream, b.stream)
    const first = channel.subscribe(a.stream)
    const second = channel.subscribe(b.stream)
    for (const verdict of verdicts) verdict.resolve(true)
    await Promise.all([first, second])
    expect(channel.size).toBe(1)
    expect(a.transport.status).toBe(200)
    expect(a.stream.closed).toBe(false)
    expect(b.transport.text).toBe('retry: 500\n\n')
    expect(b.transport.ended).toBe(true)
  })

  it('ends a stream whose authorize settles after the channel closed, instead of leaving it pending', async () => {
    const verdict = deferred<boolean>()
    const channel = createChannel({ authorize: () => verdict.promise })
    const { stream, transport } = memoryStream({ heartbeat: false })
    opened.push(stream)
    const subscribing = channel.subscribe(stream)
    channel.close()
    verdict.resolve(true)
    await subscribing
    expect(channel.size).toBe(0)
    expect(stream.closed).toBe(true)
    expect(transport.ended).toBe(true)
  })

  it('leaves the channel when the stream closes, and unsubscribing keeps the stream open', async () => {
    const one = createChannel()
    const two = createChannel()
    const { stream, transport } = await open()
    const offOne = await one.subscribe(stream)
    await two.subscribe(stream)
    offOne()
    expect([one.size, two.size]).toEqual([0, 1])
    await one.publish('gone')
    await two.publish('kept')
    expect(transport.text).toBe('data: kept\n\n')
    expect(stream.closed).toBe(false)
    transport.disconnect()
    expect([one.size, two.size]).toEqual([0, 0])
  })

  it('replays a resuming subscriber from the channel store, then goes live', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel({ store })
    const ids = [await channel.publish('1'), await channel.publish('2'), await channel.publish('3')]
    const { stream, transport } = await open({}, ids[0])
    await channel.subscribe(stream)
    const live = await channel.publish('4')
    expect(transport.text).toBe(
      `id: ${ids[1]}\ndata: 2\n\nid: ${ids[2]}\ndata: 3\n\nid: ${live}\ndata: 4\n\n`,
    )
  })

  it('ends subscribers and refuses further use once closed', async () => {
    const channel = createChannel()
    const subscribers = await Promise.all([open(), open()])
    for (const { stream } of subscribers) await channel.subscribe(stream)
    channel.close({ retry: { ms: 100, jitter: 0 } })
    for (const { stream, transport } of subscribers as {
      stream: { closed: boolean }
      transport: MemoryTransport
    }[]) {
      expect(stream.closed).toBe(true)
      expect(transport.text).toBe('retry: 100\n\n')
    }
    await expect(channel.publish('x')).rejects.toMatchObject({ code: 'ERR_SSE_CHANNEL_CLOSED' })
    const late = await open()
    await expect(channel.subscribe(late.stream)).rejects.toMatchObject({
      code: 'ERR_SSE_CHANNEL_CLOSED',
    })
  })
})
