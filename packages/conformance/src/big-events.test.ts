/**
 * `maxBufferedBytes` bounds how far behind a client stays, not how big one event may be: a
 * client that reads gets events of any size whole, with default options, from its own
 * stream and from a channel with a store (where a cut-off would loop: reconnect, replay the
 * same event, cut off again).
 */
import { createChannel, type EventStream, getMetrics, MemoryEventStore } from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'
import { openSse } from './support-channels/client.js'
import { Cleanup, get, startApp } from './support-channels/harness.js'

const MiB = 1024 * 1024
// A 3 MiB JSON snapshot and an 8 MiB text, both far over the default 1 MiB limit.
const snapshot = { rows: Array.from({ length: 3 * 1024 }, (_, i) => `${i}`.padEnd(1000, 'r')) }
const snapshotText = JSON.stringify(snapshot)
const huge = 'h'.repeat(8 * MiB)

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()
  const cleanup = new Cleanup()
  afterEach(() => cleanup.run())

  it('gives a reading client events of 3 MiB and 8 MiB whole, between small ones, with default options', async () => {
    const dropped = getMetrics().slowClientsDropped
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/big',
        handler: (stream) => {
          // Not awaited: offered as fast as a loop would write them.
          void stream.send({ id: 1, data: 'before' })
          void stream.send({ id: 2, event: 'snapshot', data: snapshot })
          void stream.send({ id: 3, data: 'between' })
          void stream.send({ id: 4, event: 'log', data: huge })
          void stream.send({ id: 5, data: 'after' }).then(() => stream.close())
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/big`)
    const events = await reader.waitForEvents(5, 20_000)
    expect(events.map((e) => [e.id, e.event])).toEqual([
      ['1', undefined],
      ['2', 'snapshot'],
      ['3', undefined],
      ['4', 'log'],
      ['5', undefined],
    ])
    expect(events[0]!.data).toBe('before')
    expect(events[1]!.data === snapshotText).toBe(true)
    expect(events[2]!.data).toBe('between')
    expect(events[3]!.data === huge).toBe(true)
    expect(events[4]!.data).toBe('after')
    expect(getMetrics().slowClientsDropped).toBe(dropped)
  })

  it('delivers a channel snapshot bigger than maxBufferedBytes once, with no reconnect loop', async () => {
    const dropped = getMetrics().slowClientsDropped
    const channel = createChannel({ store: new MemoryEventStore() })
    const streams: EventStream[] = []
    const app = await startApp(cleanup, adapter, [
      get('/feed', async (stream) => {
        streams.push(stream)
        await channel.subscribe(stream)
      }),
    ])
    const client = await openSse(`${app.url}/feed`)
    cleanup.add(() => client.close())
    await waitFor(() => channel.size === 1, 5000, 'the subscriber')
    const ids = [
      await channel.publish('small'),
      await channel.publish({ event: 'snapshot', data: snapshot }),
      await channel.publish({ event: 'log', data: huge }),
      await channel.publish('small again'),
    ]
    const events = await client.waitForEvents(4, 20_000)
    expect(events.map((e) => e.id)).toEqual(ids)
    expect(events[2]!.data === huge).toBe(true)
    expect(JSON.parse(events[1]!.data)).toEqual(snapshot)
    // One connection, still open: nothing was cut off, so nothing reconnected.
    expect(streams).toHaveLength(1)
    expect(streams[0]!.closed).toBe(false)
    expect(getMetrics().slowClientsDropped).toBe(dropped)
  })
})
