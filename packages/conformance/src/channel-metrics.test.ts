/**
 * `getMetrics()` moves by exactly what happened: streams opened, events published and
 * sent, bytes written, replays, gaps, refusals. (Slow-client drops are counted in
 * channel-backpressure.test.ts, where one happens.) Deltas only: other files run in other
 * workers, and within this file tests run one after another.
 */
import { createChannel, getMetrics, MemoryEventStore, type SseMetrics } from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { openSse, type SseHttpClient } from './support-channels/client.js'
import { Cleanup, get, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

function delta(before: SseMetrics, after: SseMetrics): SseMetrics {
  const out = { ...after }
  for (const key of Object.keys(out) as (keyof SseMetrics)[]) out[key] = after[key] - before[key]
  return out
}

const NONE: SseMetrics = {
  openStreams: 0,
  streamsOpened: 0,
  eventsSent: 0,
  eventsPublished: 0,
  bytesWritten: 0,
  slowClientsDropped: 0,
  replays: 0,
  eventsReplayed: 0,
  gaps: 0,
  refusedOverLimit: 0,
  refusedUnauthorized: 0,
}

describe.each(adapters)('$name', (adapter) => {
  it('counts exactly what a small broadcast scenario does', async () => {
    const channel = createChannel({ store: new MemoryEventStore(), maxSubscribers: 4 })
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
    const clients: SseHttpClient[] = []
    cleanup.add(() => {
      for (const client of clients) client.close()
    })
    const connect = async (headers?: Record<string, string>) => {
      const client = await openSse(`${app.url}/feed`, headers)
      clients.push(client)
      return client
    }
    const bytes = () => clients.reduce((sum, c) => sum + c.bytes, 0)
    const start = getMetrics()

    // Two subscribers: two streams, nothing written yet but the adapter's preamble.
    const preambleBytes = Buffer.byteLength(adapter.preamble)
    const [a, b] = [await connect(), await connect()]
    await waitFor(() => channel.size === 2, 5000, 'two subscribers')
    let mark = getMetrics()
    expect(delta(start, mark)).toEqual({
      ...NONE,
      openStreams: 2,
      streamsOpened: 2,
      bytesWritten: 2 * preambleBytes,
    })

    // Three publishes reach two subscribers: 3 published, 6 sent, every byte counted.
    const ids: (string | undefined)[] = []
    for (const data of ['one', 'two', 'three']) ids.push(await channel.publish(data))
    await a!.waitForEvents(3)
    await b!.waitForEvents(3)
    const frames = ['one', 'two', 'three'].map((data, i) => `id: ${ids[i]}\ndata: ${data}\n\n`)
    expect(a!.text).toBe(adapter.preamble + frames.join(''))
    expect(b!.text).toBe(adapter.preamble + frames.join(''))
    let now = getMetrics()
    expect(delta(mark, now)).toEqual({
      ...NONE,
      eventsPublished: 3,
      eventsSent: 6,
      bytesWritten: 2 * Buffer.byteLength(frames.join('')),
    })
    expect(now.bytesWritten - start.bytesWritten).toBe(bytes())

    // A reconnect after the first event: one replay of two events.
    mark = now
    const c = await connect({ 'last-event-id': ids[0]! })
    await c.waitForEvents(2)
    expect(c.text).toBe(adapter.preamble + frames.slice(1).join(''))
    now = getMetrics()
    expect(delta(mark, now)).toEqual({
      ...NONE,
      openStreams: 1,
      streamsOpened: 1,
      replays: 1,
      eventsReplayed: 2,
      bytesWritten: Buffer.byteLength(c.text),
    })

    // An id this store never gave out: a gap, no replay.
    mark = now
    await connect({ 'last-event-id': 'not-an-id' })
    await waitFor(() => channel.size === 4, 5000, 'four subscribers')
    now = getMetrics()
    expect(delta(mark, now)).toEqual({
      ...NONE,
      openStreams: 1,
      streamsOpened: 1,
      gaps: 1,
      bytesWritten: preambleBytes,
    })

    // A fifth is over maxSubscribers: refused, never opened.
    mark = now
    const refused = await connect()
    await refused.waitForEnd()
    expect(refused.text).toMatch(/^retry: \d+\n\n$/)
    now = getMetrics()
    expect(delta(mark, now)).toMatchObject({
      openStreams: 0,
      streamsOpened: 0,
      refusedOverLimit: 1,
    })

    // One more publish reaches the four subscribers.
    mark = now
    const last = await channel.publish('four')
    for (const client of clients.slice(0, 4)) {
      await waitFor(() => client.events.at(-1)?.id === last, 5000, 'the last event everywhere')
    }
    now = getMetrics()
    expect(delta(mark, now)).toEqual({
      ...NONE,
      eventsPublished: 1,
      eventsSent: 4,
      bytesWritten: 4 * Buffer.byteLength(`id: ${last}\ndata: four\n\n`),
    })

    // Everyone leaves: no stream left open.
    for (const client of clients) client.close()
    await waitFor(() => getMetrics().openStreams === start.openStreams, 5000, 'streams closed')
    expect(channel.size).toBe(0)
    expect(delta(start, getMetrics())).toMatchObject({
      openStreams: 0,
      streamsOpened: 4,
      eventsPublished: 4,
      eventsSent: 10,
      replays: 1,
      eventsReplayed: 2,
      gaps: 1,
      refusedOverLimit: 1,
      slowClientsDropped: 0,
      refusedUnauthorized: 0,
    })
  })
})
