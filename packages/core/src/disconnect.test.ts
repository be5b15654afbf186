import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { heartbeatTimers } from './heartbeat.js'
import { getMetrics } from './metrics.js'
import type { StreamOptions } from './options.js'
import { allStreams } from './registry.js'
import type { EventStream } from './stream.js'
import {
  Cleanup,
  fetchSse,
  RawClient,
  rawGet,
  startServer,
  tick,
  waitFor,
} from './test-utils/index.js'
import { createEventStream } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

interface Opened {
  stream: EventStream
  res: ServerResponse
  /**
   * listenerCount('close') of the response and ('drain') of the response and its socket
   * (the stream writes to the socket directly on HTTP/1.1) before the stream was made.
   */
  baseline: { close: number; drain: number }
  onClose: ReturnType<typeof vi.fn>
}

const sockets = new WeakMap<ServerResponse, Socket>()
/** 'drain' listeners on the response and on its socket (kept: a closed response forgets it). */
function drainListeners(res: ServerResponse): number {
  const socket = sockets.get(res) ?? (res.socket as Socket)
  sockets.set(res, socket)
  return res.listenerCount('drain') + socket.listenerCount('drain')
}

/** A server whose every request opens a stream; `opened` lists them as they come. */
async function serve(
  options: StreamOptions,
  handler: (o: Opened) => void | Promise<void> = () => {},
) {
  const opened: Opened[] = []
  const server = await startServer((req, res) => {
    const baseline = { close: res.listenerCount('close'), drain: drainListeners(res) }
    const stream = createEventStream(req, res, options)
    const onClose = vi.fn()
    stream.onClose(onClose)
    const o = { stream, res, baseline, onClose }
    opened.push(o)
    void handler(o)
  })
  cleanup.add(server, (s) => s.close())
  return { server, opened }
}

/** Asserts that the stream let go of everything it held on the response and the process. */
function expectReleased(o: Opened, metricsBefore: { openStreams: number }) {
  expect(o.stream.closed).toBe(true)
  expect(o.stream.signal.aborted).toBe(true)
  expect(o.onClose).toHaveBeenCalledTimes(1)
  expect(o.res.listenerCount('close')).toBe(o.baseline.close)
  expect(drainListeners(o.res)).toBe(o.baseline.drain)
  expect(heartbeatTimers()).toBe(0)
  expect(getMetrics().openStreams).toBe(metricsBefore.openStreams)
  expect(allStreams.size).toBe(0)
}

describe('when the client goes away', () => {
  it('releases listeners, the heartbeat timer, the open count and aborts the signal', async () => {
    const before = getMetrics()
    const { server, opened } = await serve(
      { heartbeat: 1000 },
      ({ stream }) => void stream.send('hi'),
    )
    const client = await fetchSse(server.url())
    await client.reader.waitForEvents(1)
    const o = opened[0]!
    // While open: one 'close' listener of ours (and no 'drain' one while no write waits for
    // it), one shared timer.
    expect(o.res.listenerCount('close')).toBe(o.baseline.close + 1)
    expect(drainListeners(o.res)).toBe(o.baseline.drain)
    expect(heartbeatTimers()).toBe(1)
    expect(getMetrics().openStreams).toBe(before.openStreams + 1)
    await client.abort()
    await waitFor(() => o.stream.closed)
    expectReleased(o, before)
    await expect(o.stream.send('too late')).resolves.toBe(false)
  })

  it('releases everything when an EventSource client closes', async () => {
    const before = getMetrics()
    const { server, opened } = await serve(
      { heartbeat: 5000 },
      ({ stream }) => void stream.send('hi'),
    )
    const es = cleanup.add(new EventSource(server.url()), (e) => e.close())
    const got: string[] = []
    es.onmessage = (e) => got.push(e.data)
    await waitFor(() => got.length === 1)
    es.close()
    await waitFor(() => opened[0]!.stream.closed)
    expectReleased(opened[0]!, before)
  })

  it('releases everything when a raw socket is destroyed', async () => {
    const before = getMetrics()
    const { server, opened } = await serve({ heartbeat: 5000 })
    const client = await RawClient.send(server.port, rawGet('/'))
    cleanup.add(client, (c) => c.destroy())
    await client.waitForBytes((b) => b.includes('\r\n\r\n'))
    client.destroy()
    await waitFor(() => opened[0]!.stream.closed)
    expectReleased(opened[0]!, before)
  })

  it('releases everything for many clients at once', async () => {
    const before = getMetrics()
    const { server, opened } = await serve(
      { heartbeat: 2000 },
      ({ stream }) => void stream.send('x'),
    )
    const clients = await Promise.all(Array.from({ length: 20 }, () => fetchSse(server.url())))
    await Promise.all(clients.map((c) => c.reader.waitForEvents(1)))
    expect(heartbeatTimers()).toBe(1)
    expect(getMetrics().openStreams).toBe(before.openStreams + 20)
    await Promise.all(clients.map((c) => c.abort()))
    await waitFor(() => opened.every((o) => o.stream.closed))
    for (const o of opened) expectReleased(o, before)
  })

  it("calls pipe()'s async generator return(), so that its finally runs and it stops producing", async () => {
    let produced = 0
    let finalized = 0
    async function* forever() {
      try {
        for (;;) {
          await tick()
          yield { n: ++produced }
        }
      } finally {
        finalized++
      }
    }
    let piped: Promise<void> | undefined
    const { server, opened } = await serve({ heartbeat: false }, ({ stream }) => {
      piped = stream.pipe(forever())
    })
    const client = await fetchSse(server.url())
    await client.reader.waitForEvents(3)
    await client.abort()
    await waitFor(() => finalized === 1)
    await expect(piped).resolves.toBe(undefined)
    const at = produced
    await tick()
    await tick()
    expect(produced).toBe(at)
    expect(opened[0]!.stream.closed).toBe(true)
    expect(finalized).toBe(1)
  })
})

describe('when the server closes the stream', () => {
  it('ends the response and releases everything', async () => {
    const before = getMetrics()
    const { server, opened } = await serve({ heartbeat: 1000 }, async ({ stream }) => {
      await stream.send('bye')
      stream.close()
    })
    const client = await fetchSse(server.url())
    expect(await client.reader.readToEnd()).toBe('data: bye\n\n')
    expectReleased(opened[0]!, before)
    expect(opened[0]!.res.writableEnded).toBe(true)
  })
})
