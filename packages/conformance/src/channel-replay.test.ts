/**
 * Resuming a channel through Last-Event-ID while publishes go on, and gaps reported
 * rather than hidden.
 */
import {
  createChannel,
  type Gap,
  getMetrics,
  MemoryEventStore,
  type StoredEvent,
  type StoreInput,
} from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { type Deferred, deferred, WrappedStore, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { openSse, type SseHttpClient } from './support-channels/client.js'
import { Cleanup, get, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/**
 * A MemoryEventStore whose appends settle on a later turn (stored, and followers told, at
 * once) and whose `read` waits for a gate the test opens. With `late`, the read is taken
 * after the gate opens, so it also holds the events published meanwhile (which the
 * subscription queued too); else before it.
 */
class SlowStore extends WrappedStore {
  readonly reads: (string | undefined)[] = []
  gate: Deferred<void> | undefined

  constructor(readonly late: boolean) {
    super()
  }

  override append(name: string, event: StoreInput): Promise<StoredEvent> {
    const entry = this.inner.append(name, event)
    return new Promise((resolve) => setImmediate(() => resolve(entry)))
  }

  override async read(name: string, after: string | undefined, limit: number) {
    this.reads.push(after)
    const early = this.late ? undefined : this.inner.read(name, after, limit)
    await this.gate?.promise
    return early ?? this.inner.read(name, after, limit)
  }
}

const idsAndData = (client: SseHttpClient) => client.events.map(({ id, data }) => ({ id, data }))

describe.each(adapters)('$name', (adapter) => {
  for (const late of [false, true]) {
    it(`resumes exactly once and in order while publishes continue (read taken ${late ? 'after' : 'before'} they land)`, async () => {
      const store = new SlowStore(late)
      const channel = createChannel({ store })
      const app = await startApp(
        cleanup,
        adapter,
        [
          get('/feed', async (stream) => {
            await channel.subscribe(stream)
          }),
        ],
        { heartbeat: false },
      )
      const live = await openSse(`${app.url}/feed`)
      cleanup.add(() => live.close())
      await waitFor(() => channel.size === 1, 5000, 'the live client subscribed')
      const published: { id: string | undefined; data: string }[] = []
      const publish = async (data: string) => {
        published.push({ id: await channel.publish(data), data })
      }
      for (let n = 1; n <= 5; n++) await publish(`before ${n}`)
      await live.waitForEvents(5)

      const gate = deferred()
      store.gate = gate
      cleanup.add(() => gate.resolve())
      // The status waits for the first read of the replay (a client that has all of an ended
      // log is answered 204): the response arrives once the gate opens.
      let answered = false
      const resuming = openSse(`${app.url}/feed`, { 'last-event-id': published[1]!.id! })
      void resuming.then(
        (client) => {
          answered = true
          cleanup.add(() => client.close())
        },
        () => {},
      )
      await waitFor(() => store.reads.length === 1, 5000, 'the replay started')
      // Published while the replay is still reading the store.
      for (let n = 1; n <= 3; n++) await publish(`during ${n}`)
      await live.waitForEvents(8)
      expect(answered).toBe(false)
      gate.resolve()
      const resumed = await resuming
      await resumed.waitForEvents(6)
      for (let n = 1; n <= 2; n++) await publish(`after ${n}`)
      await resumed.waitForEvents(8)
      await live.waitForEvents(10)

      expect(store.reads).toEqual([published[1]!.id])
      expect(idsAndData(resumed)).toEqual(published.slice(2))
      expect(idsAndData(live)).toEqual(published)
      // Ids are the store's, in publish order.
      expect(published.map((p) => p.id)).toEqual(
        published.map((_, i) => published[0]!.id!.replace(/-1$/, `-${i + 1}`)),
      )
    })
  }

  it('reports an unknown Last-Event-ID to onGap, counts it, and goes live', async () => {
    const gaps: Gap[] = []
    const store = new MemoryEventStore()
    const channel = createChannel({
      store,
      onGap: async (gap, stream) => {
        gaps.push(gap)
        await stream.send({ event: 'snapshot', data: { size: channel.size } })
      },
    })
    const app = await startApp(
      cleanup,
      adapter,
      [
        get('/feed', async (stream) => {
          await channel.subscribe(stream)
        }),
      ],
      { heartbeat: false },
    )
    const first = await channel.publish('kept')
    const before = getMetrics()
    const client = await openSse(`${app.url}/feed`, { 'last-event-id': 'zzzzzz-1' })
    cleanup.add(() => client.close())
    await client.waitForEvents(1)
    const live = await channel.publish('live')
    await client.waitForEvents(2)

    expect(gaps).toEqual([{ reason: 'unknown', lastEventId: 'zzzzzz-1' }])
    expect(client.events).toEqual([
      { event: 'snapshot', data: '{"size":1}' },
      { id: live, data: 'live' },
    ])
    expect(first).not.toBe(live)
    const after = getMetrics()
    expect(after.gaps - before.gaps).toBe(1)
    expect(after.replays - before.replays).toBe(0)
  })
})
