/**
 * Subscriptions end cleanly: a closed stream leaves every channel, unsubscribing leaves the
 * stream open, and a closed channel ends its streams and refuses further use.
 */
import { type Channel, createChannel, type EventStream, getMetrics } from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { openSse } from './support-channels/client.js'
import { Cleanup, get, startApp, trackCloseListeners } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

interface Opened {
  stream: EventStream
  listeners: Set<unknown>
  unsubscribe: (() => void)[]
}

/** Three topics, and a route that subscribes each request to all of them. */
async function threeTopics(adapter: (typeof adapters)[number]) {
  const channels = ['orders', 'payments', 'shipping'].map((event) => createChannel({ event }))
  const opened: Opened[] = []
  const app = await startApp(
    cleanup,
    adapter,
    [
      get('/topics', async (stream) => {
        const entry: Opened = { stream, listeners: trackCloseListeners(stream), unsubscribe: [] }
        opened.push(entry)
        for (const channel of channels) entry.unsubscribe.push(await channel.subscribe(stream))
      }),
    ],
    { heartbeat: false },
  )
  const sizes = () => channels.map((c) => c.size)
  return { app, channels, opened, sizes }
}

async function publishAll(channels: Channel[], data: string): Promise<void> {
  for (const channel of channels) await channel.publish(data)
}

describe.each(adapters)('$name', (adapter) => {
  it('takes a stream whose client left out of every channel, with no listener left behind', async () => {
    const { app, channels, opened, sizes } = await threeTopics(adapter)
    const client = await openSse(`${app.url}/topics`)
    cleanup.add(() => client.close())
    await waitFor(() => sizes().every((n) => n === 1), 5000, 'subscribed to all three')
    const { stream, listeners } = opened[0]!
    expect(listeners.size).toBe(3)

    client.close()
    await waitFor(() => stream.closed, 5000, 'the server saw the client leave')
    expect(sizes()).toEqual([0, 0, 0])
    expect(listeners.size).toBe(0)
    expect(app.openStreams()).toBe(0)
    // Publishing to the emptied channels writes nothing anywhere.
    const before = getMetrics()
    await publishAll(channels, 'nobody')
    expect(getMetrics().bytesWritten - before.bytesWritten).toBe(0)
    expect(getMetrics().eventsSent - before.eventsSent).toBe(0)
  })

  it('takes a stream the server closed out of every channel', async () => {
    const { app, channels, opened, sizes } = await threeTopics(adapter)
    const client = await openSse(`${app.url}/topics`)
    cleanup.add(() => client.close())
    await waitFor(() => sizes().every((n) => n === 1), 5000, 'subscribed to all three')
    await publishAll(channels, 'one')
    opened[0]!.stream.close()
    expect(sizes()).toEqual([0, 0, 0])
    expect(opened[0]!.listeners.size).toBe(0)
    await client.waitForEnd()
    expect(client.text).toBe(
      `${adapter.preamble}event: orders\ndata: one\n\nevent: payments\ndata: one\n\nevent: shipping\ndata: one\n\n`,
    )
  })

  it('unsubscribes one channel and leaves the stream open for the others', async () => {
    const { app, channels, opened, sizes } = await threeTopics(adapter)
    const client = await openSse(`${app.url}/topics`)
    cleanup.add(() => client.close())
    await waitFor(() => sizes().every((n) => n === 1), 5000, 'subscribed to all three')
    const { stream, listeners, unsubscribe } = opened[0]!

    unsubscribe[1]!()
    expect(sizes()).toEqual([1, 0, 1])
    expect(listeners.size).toBe(2)
    // Twice is harmless.
    unsubscribe[1]!()
    expect(sizes()).toEqual([1, 0, 1])
    await publishAll(channels, 'after')
    await client.waitForEvents(2)
    expect(stream.closed).toBe(false)
    expect(client.ended).toBe(false)
    expect(client.events).toEqual([
      { event: 'orders', data: 'after' },
      { event: 'shipping', data: 'after' },
    ])

    client.close()
    await waitFor(() => stream.closed, 5000, 'the server saw the client leave')
    expect(sizes()).toEqual([0, 0, 0])
    expect(listeners.size).toBe(0)
  })

  it('ends its subscribers when the channel closes, then rejects publish and subscribe', async () => {
    const channel = createChannel()
    const failures: unknown[] = []
    const app = await startApp(
      cleanup,
      adapter,
      [
        get('/feed', async (stream) => {
          try {
            await channel.subscribe(stream)
          } catch (error) {
            failures.push(error)
            stream.close()
          }
        }),
      ],
      { heartbeat: false },
    )
    const clients = [await openSse(`${app.url}/feed`), await openSse(`${app.url}/feed`)]
    cleanup.add(() => {
      for (const client of clients) client.close()
    })
    await waitFor(() => channel.size === 2, 5000, 'two subscribers')
    await channel.publish('last')

    channel.close({ retry: { ms: 4000, jitter: 1000 } })
    expect(channel.closed).toBe(true)
    expect(channel.size).toBe(0)
    for (const client of clients) {
      await client.waitForEnd()
      expect(client.events).toEqual([{ data: 'last' }])
      expect(client.retries).toHaveLength(1)
      expect(client.retries[0]).toBeGreaterThanOrEqual(4000)
      expect(client.retries[0]).toBeLessThanOrEqual(5000)
      expect(client.text).toBe(`${adapter.preamble}data: last\n\nretry: ${client.retries[0]}\n\n`)
    }
    await waitFor(() => app.openStreams() === 0, 5000, 'no stream left open')

    await expect(channel.publish('too late')).rejects.toMatchObject({
      name: 'SseError',
      code: 'ERR_SSE_CHANNEL_CLOSED',
    })
    const late = await openSse(`${app.url}/feed`)
    cleanup.add(() => late.close())
    await late.waitForEnd()
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({ code: 'ERR_SSE_CHANNEL_CLOSED' })
    expect(late.events).toEqual([])
    expect(channel.size).toBe(0)
  })
})
