/**
 * Broadcast channels through every adapter: a thousand real connections, one encoding per
 * publish, filtered subscribers, and several topics over one connection.
 */
import { execFileSync } from 'node:child_process'
import {
  type Channel,
  createChannel,
  type EventStream,
  getMetrics,
  MemoryEventStore,
  type SseEvent,
  type StoreInput,
} from '@ssekit/core'
import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { openMany, openSse, type SseHttpClient } from './support-channels/client.js'
import { Cleanup, get, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** Clients are closed after each test, before their app. */
function track<T extends { close(): void }>(clients: T[]): T[] {
  cleanup.add(() => {
    for (const client of clients) client.close()
  })
  return clients
}

const CONNECTIONS = 1000
const EVENTS = 20

// biome-ignore lint/suspicious/noExplicitAny: any channel, typed or not
function subscribeRoute(channel: Channel<any>, path = '/feed') {
  return get(path, async (stream) => {
    await channel.subscribe(stream)
  })
}

describe.each(adapters)('$name', (adapter) => {
  it(`delivers every event exactly once and in order to ${CONNECTIONS} connections`, async () => {
    // Both ends of every connection live in this process: stay well under the fd limit.
    const limit = execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()
    if (limit !== 'unlimited') expect(Number(limit)).toBeGreaterThan(2 * CONNECTIONS + 200)
    const channel = createChannel()
    const app = await startApp(cleanup, adapter, [subscribeRoute(channel)], { heartbeat: false })
    const clients = track([] as SseHttpClient[])
    await openMany(`${app.url}/feed`, CONNECTIONS, 100, (client) => clients.push(client))
    expect(clients.map((c) => c.status)).toEqual(Array(CONNECTIONS).fill(200))
    await waitFor(() => channel.size === CONNECTIONS, 10_000, 'every client subscribed')

    const expected: { id: string; data: string }[] = []
    for (let i = 1; i <= EVENTS; i++) {
      const data = JSON.stringify({ n: i, text: `event ${i}` })
      expect(await channel.publish({ id: String(i), data: { n: i, text: `event ${i}` } })).toBe(
        String(i),
      )
      expected.push({ id: String(i), data })
    }
    await waitFor(
      () => clients.every((c) => c.events.length >= EVENTS || c.ended),
      20_000,
      'every client received every event',
    )
    // One string per client, so that a thousand comparisons stay cheap and a failure short.
    const want = JSON.stringify(expected)
    const got = (c: SseHttpClient) => JSON.stringify(c.events.map(({ id, data }) => ({ id, data })))
    const wrong = clients.filter((c) => got(c) !== want)
    expect(wrong.map((c) => c.events)).toEqual([])
    expect(clients.filter((c) => c.ended)).toHaveLength(0)
    expect(app.openStreams()).toBe(CONNECTIONS)
  })

  it('serializes and stores each publish once, and writes the same bytes to every subscriber', async () => {
    const serializer = vi.fn((value: unknown) => JSON.stringify(value))
    const store = new MemoryEventStore()
    const append = vi.spyOn(store, 'append')
    const read = vi.spyOn(store, 'read')
    const channel = createChannel({ serializer, store })
    const app = await startApp(cleanup, adapter, [subscribeRoute(channel)], { heartbeat: false })
    const clients = track(await openMany(`${app.url}/feed`, 50, 50))
    await waitFor(() => channel.size === 50, 5000, 'every client subscribed')
    const before = getMetrics()

    let frames = ''
    for (let i = 1; i <= 4; i++) {
      const id = await channel.publish({ event: 'tick', data: { n: i, at: 'é' } })
      frames += `event: tick\nid: ${id}\ndata: {"n":${i},"at":"é"}\n\n`
    }
    await waitFor(() => clients.every((c) => c.events.length >= 4), 5000, 'all four events')

    expect(serializer).toHaveBeenCalledTimes(4)
    expect(append).toHaveBeenCalledTimes(4)
    // An unnamed channel with a store is the store's 'default' log.
    expect(append.mock.calls).toEqual(
      [1, 2, 3, 4].map((n): [string, StoreInput] => [
        'default',
        { data: `{"n":${n},"at":"é"}`, event: 'tick', serialized: true },
      ]),
    )
    // Live subscribers are fed by the store's notifications: nothing is read back.
    expect(read).not.toHaveBeenCalled()
    for (const client of clients) expect(client.text).toBe(adapter.preamble + frames)
    const after = getMetrics()
    expect(after.eventsPublished - before.eventsPublished).toBe(4)
    expect(after.eventsSent - before.eventsSent).toBe(4 * 50)
    expect(after.bytesWritten - before.bytesWritten).toBe(50 * Buffer.byteLength(frames))
  })

  it('gives a filtered subscriber only its events and every other subscriber all of them', async () => {
    const channel = createChannel<{ message: { user: string; n: number } }>()
    const app = await startApp(
      cleanup,
      adapter,
      [
        subscribeRoute(channel, '/all'),
        get('/mine', async (stream, request) => {
          const user = request.headers['x-user']
          await channel.subscribe(stream, { filter: (event) => event.data.user === user })
        }),
      ],
      { heartbeat: false },
    )
    const all = track([await openSse(`${app.url}/all`), await openSse(`${app.url}/all`)])
    const mine = track([await openSse(`${app.url}/mine`, { 'x-user': 'ada' })])[0]!
    await waitFor(() => channel.size === 3, 5000, 'three subscribers')

    const users = ['ada', 'bob', 'ada', 'cy', 'bob', 'ada']
    for (const [n, user] of users.entries())
      await channel.publish({ id: `${n}`, data: { user, n } })
    const everything = users.map((user, n) => ({ id: `${n}`, data: JSON.stringify({ user, n }) }))
    for (const client of all) expect(await client.waitForEvents(6)).toEqual(everything)
    // The last event is ada's: once it is in, nothing else can still be on its way.
    await mine.waitForEvents(3)
    expect(mine.events).toEqual(everything.filter((_, n) => users[n] === 'ada'))
  })

  it('carries three topics over one connection, told apart by event name', async () => {
    const orders = createChannel({ event: 'orders' })
    const payments = createChannel({ event: 'payments' })
    const shipping = createChannel({ event: 'shipping' })
    const app = await startApp(
      cleanup,
      adapter,
      [
        get('/topics', async (stream: EventStream) => {
          await orders.subscribe(stream)
          await payments.subscribe(stream)
          await shipping.subscribe(stream)
        }),
      ],
      { heartbeat: false },
    )
    const source = new EventSource(`${app.url}/topics`)
    cleanup.add(() => source.close())
    const received: string[] = []
    for (const name of ['orders', 'payments', 'shipping', 'refund', 'message']) {
      source.addEventListener(name, (event) => {
        received.push(`${name}:${(event as MessageEvent<string>).data}`)
      })
    }
    await waitFor(() => orders.size + payments.size + shipping.size === 3, 5000, 'subscribed')

    await orders.publish({ id: 'o1', data: 'order 1' })
    await payments.publish('payment 1')
    await shipping.publish({ data: { parcel: 7 } })
    await orders.publish('order 2')
    // An event that names itself keeps its name.
    await payments.publish({ event: 'refund', data: 'refund 1' } satisfies SseEvent)
    await shipping.publish('parcel 8')
    await waitFor(() => received.length >= 6, 5000, 'six named events')
    expect(received).toEqual([
      'orders:order 1',
      'payments:payment 1',
      'shipping:{"parcel":7}',
      'orders:order 2',
      'refund:refund 1',
      'shipping:parcel 8',
    ])
    expect(source.readyState).toBe(EventSource.OPEN)
    expect(app.openStreams()).toBe(1)
  })
})
