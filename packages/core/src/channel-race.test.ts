import { describe, expect, it } from 'vitest'
import type { Broker, BrokerMessage, BrokerUnsubscribe } from './broker.js'
import { createChannel } from './channel.js'
import type { EventStore, ReadResult, StoreInput } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import { deferred, memoryStream, parseSse, waitFor } from './test-utils/index.js'

/** A store whose appends settle later and whose readAfter waits for the test's gate. */
class SlowStore implements EventStore {
  readonly inner = new MemoryEventStore()
  readonly reading = deferred()
  readonly gate = deferred()

  append(event: StoreInput): Promise<string> {
    const id = this.inner.append(event)
    return new Promise((resolve) => setTimeout(() => resolve(id), 5))
  }

  async readAfter(lastEventId: string): Promise<ReadResult> {
    this.reading.resolve()
    await this.gate.promise
    return this.inner.readAfter(lastEventId)
  }
}

/** A broker that hands messages back only when the test flushes it, like a network one. */
class LateBroker implements Broker {
  readonly pending: BrokerMessage[] = []
  #listener: ((message: BrokerMessage) => void) | undefined

  publish(_topic: string, message: BrokerMessage): void {
    this.pending.push(message)
  }

  subscribe(_topic: string, onMessage: (message: BrokerMessage) => void): BrokerUnsubscribe {
    this.#listener = onMessage
    return () => {
      this.#listener = undefined
    }
  }

  flush(): void {
    for (const message of this.pending.splice(0)) this.#listener?.(message)
  }
}

const data = (text: string) => parseSse(text).events.map((e) => e.data)

describe('channel replay racing with publishes', () => {
  it('writes an event whose async append was under way during the replay exactly once', async () => {
    const store = new SlowStore()
    const channel = createChannel({ store })
    const first = store.inner.append({ data: 'e1' })
    store.inner.append({ data: 'e2' })
    const { stream, transport } = memoryStream({ heartbeat: false }, { lastEventId: first })
    const subscribed = channel.subscribe(stream)
    await store.reading.promise
    // Appended to the store now (so the replay reads it), delivered only when append settles.
    const live = channel.publish('live-1')
    store.gate.resolve()
    await subscribed
    await live
    await channel.publish('live-2')
    expect(data(transport.text)).toEqual(['e2', 'live-1', 'live-2'])
  })

  it('skips an event a broker brings back after the replay already wrote it', async () => {
    const broker = new LateBroker()
    const store = new MemoryEventStore()
    const channel = createChannel({ name: 'news', store, broker })
    const first = store.append({ data: 'e1' })
    const publishedWhileAway = await channel.publish('e2') // stored; the broker holds it back
    const { stream, transport } = memoryStream({ heartbeat: false }, { lastEventId: first })
    await channel.subscribe(stream)
    expect(data(transport.text)).toEqual(['e2'])
    broker.flush() // e2 arrives live too: already replayed, so skipped
    await channel.publish('e3')
    broker.flush()
    await waitFor(() => data(transport.text).length >= 2)
    expect(data(transport.text)).toEqual(['e2', 'e3'])
    expect(parseSse(transport.text).events.map((e) => e.id)).toEqual([
      publishedWhileAway,
      expect.any(String),
    ])
  })
})
