/**
 * Last-Event-ID replay from a stream's own `store`, driven by the `eventsource` client's
 * automatic reconnect, and gaps reported to `onGap`.
 */
import { type Gap, MemoryEventStore } from '@ssekit/core'
import type { FetchLike } from 'eventsource'
import { describe, expect, it } from 'vitest'
import { deferred, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'

/** A stream's own `store` option writes to, and replays from, the store's 'default' log. */
const OWN = 'default'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  it('replays exactly the events missed while reconnecting, once each and in order', async () => {
    const store = new MemoryEventStore()
    const lastEventIds: (string | undefined)[] = []
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/job',
        options: { store, retry: 10, heartbeat: false },
        handler: async (stream, request) => {
          lastEventIds.push(request.headers['last-event-id'])
          if (lastEventIds.length === 1) {
            await stream.send('a')
            await stream.send({ event: 'progress', data: { pct: 50 } })
            await stream.send('c')
            stream.close()
          } else {
            await stream.send({ event: 'progress', data: { pct: 100 } })
          }
        },
      },
    ])
    // The second connection (the client's own reconnect) waits until the test lets it go.
    const reconnect = deferred()
    let attempts = 0
    const gatedFetch: FetchLike = async (url, init) => {
      attempts++
      if (attempts === 2) await reconnect.promise
      return fetch(url, init)
    }
    const client = h.eventSource(`${app.url}/job`, { types: ['progress'], fetch: gatedFetch })
    await client.waitForMessages(3)
    await waitFor(() => attempts === 2, 5000, 'the client reconnecting')
    // Published while the client is away: it must get these on its reconnect.
    const d = store.append(OWN, { data: 'd' }).id
    const e = store.append(OWN, { event: 'progress', data: '{"pct":75}' }).id
    reconnect.resolve()
    const messages = await client.waitForMessages(6)
    client.close()

    const ids = messages.map((m) => m.lastEventId)
    const tag = ids[0]!.split('-')[0]
    expect(ids).toEqual([1, 2, 3, 4, 5, 6].map((n) => `${tag}-${n}`))
    expect([ids[3], ids[4]]).toEqual([d, e])
    expect(messages.map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'message', data: 'a' },
      { type: 'progress', data: '{"pct":50}' },
      { type: 'message', data: 'c' },
      { type: 'message', data: 'd' },
      { type: 'progress', data: '{"pct":75}' },
      { type: 'progress', data: '{"pct":100}' },
    ])
    expect(lastEventIds).toEqual([undefined, ids[2]])
    expect(client.opens).toBe(2)
  })

  it('replays what follows the Last-Event-ID before live events, on the wire', async () => {
    const store = new MemoryEventStore()
    const first = store.append(OWN, { data: 'one' }).id
    const second = store.append(OWN, { event: 'e', data: 'two\nlines' }).id
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/job',
        options: { store, heartbeat: false },
        handler: async (stream) => {
          await stream.send('live')
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/job`, { headers: { 'last-event-id': first } })
    const tag = first.split('-')[0]
    expect(await reader.readToEnd()).toBe(
      `${adapter.preamble}event: e\nid: ${second}\ndata: two\ndata: lines\n\nid: ${tag}-3\ndata: live\n\n`,
    )
  })

  it('reports an unknown or expired Last-Event-ID to onGap and lets it send a snapshot', async () => {
    const store = new MemoryEventStore({ maxEvents: 2 })
    const old = store.append(OWN, { data: '1' }).id
    store.append(OWN, { data: '2' })
    store.append(OWN, { data: '3' })
    store.append(OWN, { data: '4' })
    const gaps: Gap[] = []
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/job',
        options: {
          store,
          heartbeat: false,
          onGap: async (gap, stream) => {
            gaps.push(gap)
            await stream.send({ event: 'snapshot', data: 'all of it' })
            stream.close()
          },
        },
        handler: () => {},
      },
    ])
    const expired = await h.fetchSse(`${app.url}/job`, { headers: { 'last-event-id': old } })
    const tag = old.split('-')[0]
    expect(await expired.reader.readToEnd()).toBe(
      `${adapter.preamble}event: snapshot\nid: ${tag}-5\ndata: all of it\n\n`,
    )
    const unknown = await h.fetchSse(`${app.url}/job`, { headers: { 'last-event-id': 'zzzzzz-1' } })
    expect(await unknown.reader.readToEnd()).toBe(
      `${adapter.preamble}event: snapshot\nid: ${tag}-6\ndata: all of it\n\n`,
    )
    expect(gaps).toEqual([
      { reason: 'expired', lastEventId: old },
      { reason: 'unknown', lastEventId: 'zzzzzz-1' },
    ])
  })
})
