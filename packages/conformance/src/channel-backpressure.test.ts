/**
 * A subscriber that stops reading is cut off at `maxBufferedBytes` without slowing the
 * channel down, and gets back everything it missed through Last-Event-ID.
 */
import { createChannel, type EventStream, getMetrics, MemoryEventStore } from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import {
  eventsInRawResponse,
  openSse,
  type SseHttpClient,
  StalledClient,
} from './support-channels/client.js'
import { Cleanup, get, settlesWithoutIo, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const MAX_BUFFERED = 128 * 1024
const EVENT_BYTES = 32 * 1024
/** Far more than loopback's socket buffers can hide from the server (a few MiB). */
const MAX_PUBLISHES = 1500
/** Published after the drop, to show the others carry on. */
const AFTER_DROP = 5

const payload = (n: number) => `${n} ${'x'.repeat(EVENT_BYTES)}`
const idsAndData = (client: SseHttpClient) => client.events.map(({ id, data }) => ({ id, data }))

describe.each(adapters)('$name', (adapter) => {
  it('drops a client that never reads, never holds the others back, and replays what it missed', async () => {
    const channel = createChannel({
      store: new MemoryEventStore({ maxEvents: MAX_PUBLISHES + 10 }),
    })
    const streams = new Map<string, EventStream>()
    const app = await startApp(
      cleanup,
      adapter,
      [
        get('/feed', async (stream, request) => {
          streams.set(request.headers['x-client'] ?? '?', stream)
          await channel.subscribe(stream)
        }),
      ],
      { heartbeat: false, maxBufferedBytes: MAX_BUFFERED },
    )
    const fast = [
      await openSse(`${app.url}/feed`, { 'x-client': 'fast-1' }),
      await openSse(`${app.url}/feed`, { 'x-client': 'fast-2' }),
    ]
    cleanup.add(() => {
      for (const client of fast) client.close()
    })
    const stalled = await StalledClient.open(app.url, '/feed', ['X-Client: stalled'])
    cleanup.add(() => stalled.destroy())
    await waitFor(() => channel.size === 3, 5000, 'three subscribers')
    const stalledStream = streams.get('stalled')!
    const before = getMetrics()

    const published: { id: string | undefined; data: string }[] = []
    let droppedAfter = -1
    for (let n = 1; n <= MAX_PUBLISHES; n++) {
      const publish = channel.publish(payload(n))
      // Never waits for the stalled socket (or any socket) to drain.
      expect(await settlesWithoutIo(publish)).toBe('settled')
      published.push({ id: await publish, data: payload(n) })
      if (droppedAfter === -1 && stalledStream.closed) droppedAfter = n
      // Each event is at the fast clients before the next publish is issued.
      await waitFor(
        () => fast.every((c) => c.events.length >= n || c.ended),
        5000,
        `event ${n} at the fast clients`,
      )
      if (droppedAfter !== -1 && n >= droppedAfter + AFTER_DROP) break
    }

    expect(droppedAfter).toBeGreaterThan(1)
    expect(getMetrics().slowClientsDropped - before.slowClientsDropped).toBe(1)
    expect(channel.size).toBe(2)
    expect(app.openStreams()).toBe(2)
    for (const client of fast) {
      expect(client.ended).toBe(false)
      expect(idsAndData(client)).toEqual(published)
    }

    // The stalled client reads at last: a clean prefix of the events, then the end (on
    // Node, everything written up to the cut-off; on the Web transport, what was accepted
    // before the backlog began).
    const { head, events } = eventsInRawResponse(await stalled.readToEnd())
    expect(head).toMatch(/^HTTP\/1\.1 200 /)
    const got = events.length
    expect(got).toBeGreaterThan(0)
    expect(got).toBeLessThanOrEqual(droppedAfter)
    expect(events.map(({ id, data }) => ({ id, data }))).toEqual(published.slice(0, got))

    // It comes back with the last id it fully received and gets the rest, once each.
    const replaysBefore = getMetrics().replays
    const resumed = await openSse(`${app.url}/feed`, {
      'x-client': 'resumed',
      'last-event-id': events[got - 1]!.id!,
    })
    cleanup.add(() => resumed.close())
    await resumed.waitForEvents(published.length - got, 10_000)
    await waitFor(() => channel.size === 3, 5000, 'the resumed client subscribed')
    const last = await channel.publish('after the resume')
    published.push({ id: last, data: 'after the resume' })
    for (const client of [...fast, resumed]) {
      await client.waitForEvents(client === resumed ? published.length - got : published.length)
    }
    expect(idsAndData(resumed)).toEqual(published.slice(got))
    for (const client of fast) expect(idsAndData(client)).toEqual(published)
    expect(getMetrics().replays - replaysBefore).toBe(1)
    expect(getMetrics().slowClientsDropped - before.slowClientsDropped).toBe(1)
  })
})
