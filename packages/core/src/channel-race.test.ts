import { describe, expect, it } from 'vitest'
import { MemoryBroker } from './broker.js'
import { createChannel } from './channel.js'
import type { LogListener, StoredEvent, StoreInput } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import { deferred, memoryStream, parseSse, WrappedStore } from './test-utils/index.js'

/**
 * A MemoryEventStore whose appends are stored (and followers told) at once but settle
 * later, and whose reads wait for the test's gate.
 */
class SlowStore extends WrappedStore {
  readonly reading = deferred()
  readonly gate = deferred()

  override append(name: string, event: StoreInput): Promise<StoredEvent> {
    const entry = this.inner.append(name, event)
    return new Promise((resolve) => setTimeout(() => resolve(entry), 5))
  }

  override async read(name: string, after: string | undefined, limit: number) {
    this.reading.resolve()
    await this.gate.promise
    return this.inner.read(name, after, limit)
  }
}

/** A MemoryEventStore that tells its followers of every entry again when the test says. */
class EchoingStore extends MemoryEventStore {
  readonly #echoes: (() => void)[] = []

  override follow(name: string, listener: LogListener): () => void {
    return super.follow(name, {
      entry: (entry) => {
        listener.entry(entry)
        this.#echoes.push(() => listener.entry(entry))
      },
      resync: () => listener.resync(),
    })
  }

  /** Notifies every entry so far a second time, as a store may after a reconnect. */
  echo(): void {
    for (const again of this.#echoes.splice(0)) again()
  }
}

const data = (text: string) => parseSse(text).events.map((e) => e.data)

describe('channel replay racing with publishes', () => {
  it('writes an event whose async append was under way during the replay exactly once', async () => {
    const store = new SlowStore()
    const channel = createChannel({ store })
    const first = store.inner.append('default', { data: 'e1' }).id
    store.inner.append('default', { data: 'e2' })
    const { stream, transport } = memoryStream({ heartbeat: false }, { lastEventId: first })
    const subscribed = channel.subscribe(stream)
    await store.reading.promise
    // In the log now (so the replay may read it), settled only later.
    const live = channel.publish('live-1')
    store.gate.resolve()
    await subscribed
    await live
    await channel.publish('live-2')
    expect(data(transport.text)).toEqual(['e2', 'live-1', 'live-2'])
  })

  it('writes an entry once when the store notifies it again after the replay wrote it', async () => {
    const store = new EchoingStore()
    const channel = createChannel({ name: 'news', store })
    const live = memoryStream({ heartbeat: false })
    await channel.subscribe(live.stream)
    const first = await channel.publish('e1')
    const second = await channel.publish('e2')
    const { stream, transport } = memoryStream({ heartbeat: false }, { lastEventId: first })
    await channel.subscribe(stream)
    expect(transport.text).toBe(`id: ${second}\ndata: e2\n\n`)
    // e1 and e2 come again: both were delivered already, so both are skipped.
    store.echo()
    const third = await channel.publish('e3')
    expect(transport.text).toBe(`id: ${second}\ndata: e2\n\nid: ${third}\ndata: e3\n\n`)
    expect(live.transport.text).toBe(
      `id: ${first}\ndata: e1\n\nid: ${second}\ndata: e2\n\nid: ${third}\ndata: e3\n\n`,
    )
  })

  it('refuses a channel with both a store and a broker, naming "broker": the log is the broker', () => {
    const make = () =>
      createChannel({ name: 'news', store: new MemoryEventStore(), broker: new MemoryBroker() })
    expect(make).toThrow(TypeError)
    expect(make).toThrow(
      /^@ssekit\/core: channel option "broker" must be left out when there is a store/,
    )
    expect(make).toThrow(expect.objectContaining({ code: 'ERR_SSE_INVALID_OPTION' }))
  })
})
