/**
 * A client that goes away leaves nothing behind on the server: the stream is closed and
 * aborted, onClose runs once, and the app's streams, the metrics and the heartbeat timers
 * are back where they were. On Hono, both over @hono/node-server.
 */
import { type EventStream, getMetrics } from '@ssekit/core'
import { describe, expect, it } from 'vitest'
import { heartbeatTimers } from '../../core/src/heartbeat.js'
import { deferred, rawGet, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { portOf, useHarness } from './support/harness.js'

type Leave = 'aborts its fetch' | 'closes its EventSource' | 'destroys its socket'
const WAYS: Leave[] = ['aborts its fetch', 'closes its EventSource', 'destroys its socket']
// A heartbeat interval no other test uses, so that its timer is this test's alone.
const HEARTBEAT = 60_001

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  it.each(WAYS)('cleans up the stream when the client %s', async (way) => {
    const openBefore = getMetrics().openStreams
    const timersBefore = heartbeatTimers()
    const opened = deferred<EventStream>()
    let closes = 0
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: HEARTBEAT },
        handler: async (stream) => {
          stream.onClose(() => {
            closes++
          })
          opened.resolve(stream)
          await stream.send('hello')
        },
      },
    ])

    let leave: () => unknown
    if (way === 'aborts its fetch') {
      const { reader, abort } = await h.fetchSse(`${app.url}/events`)
      await reader.waitForEvents(1)
      leave = abort
    } else if (way === 'closes its EventSource') {
      const client = h.eventSource(`${app.url}/events`)
      await client.waitForMessages(1)
      leave = () => client.close()
    } else {
      const client = await h.raw(portOf(app), rawGet('/events'))
      await client.waitForBytes((bytes) => bytes.includes('data: hello\n\n'))
      leave = () => client.destroy()
    }

    const stream = await opened.promise
    const aborted = new Promise<void>((resolve) =>
      stream.signal.addEventListener('abort', () => resolve()),
    )
    expect(stream.closed).toBe(false)
    expect(app.openStreams()).toBe(1)
    expect(getMetrics().openStreams).toBe(openBefore + 1)
    expect(heartbeatTimers()).toBe(timersBefore + 1)

    await leave()
    await waitFor(() => stream.closed, 5000, 'the server noticing the disconnect')
    await aborted
    expect(stream.signal.aborted).toBe(true)
    expect(closes).toBe(1)
    expect(app.openStreams()).toBe(0)
    expect(getMetrics().openStreams).toBe(openBefore)
    expect(heartbeatTimers()).toBe(timersBefore)
    // A send after the client left resolves false; it never rejects or throws.
    await expect(stream.send('late')).resolves.toBe(false)
    expect(closes).toBe(1)
  })

  it('releases a send waiting for drain with false when the client leaves', async () => {
    const opened = deferred<EventStream>()
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        // Far above what is sent here: the stream waits for drain, it is not dropped as slow.
        options: { heartbeat: false, maxBufferedBytes: 64 * 1024 * 1024 },
        handler: (stream) => {
          opened.resolve(stream)
        },
      },
    ])
    const client = await h.raw(portOf(app), rawGet('/events'))
    client.socket.pause()
    const stream = await opened.promise
    // 16 MiB to a client that reads nothing: more than every buffer on the way can hold.
    const big = 'z'.repeat(64 * 1024)
    let pending: Promise<boolean> = Promise.resolve(true)
    for (let i = 0; i < 256; i++) pending = stream.send(big)
    expect(stream.closed).toBe(false)
    client.destroy()
    await waitFor(() => stream.closed, 5000, 'the server noticing the disconnect')
    await expect(pending).resolves.toBe(false)
    expect(app.openStreams()).toBe(0)
  })
})
