import type { ServerResponse } from 'node:http'
import http2 from 'node:http2'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { getMetrics } from './metrics.js'
import type { StreamOptions } from './options.js'
import type { StoredEvent, StoreInput } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import type { EventStream } from './stream.js'
import {
  Cleanup,
  fetchSse,
  memory,
  RawClient,
  rawGet,
  startH2cServer,
  startServer,
  tick,
  waitFor,
} from './test-utils/index.js'
import { createEventStream } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const KiB = 1024
const MiB = 1024 * KiB

async function serve(
  options: StreamOptions,
  handler: (stream: EventStream, res: ServerResponse) => void,
) {
  const server = await startServer((req, res) => handler(createEventStream(req, res, options), res))
  cleanup.add(server, (s) => s.close())
  return server
}

/** A client that sends a GET and then never reads another byte. */
async function stalledClient(port: number, headers: string[] = []): Promise<RawClient> {
  const client = cleanup.add(await RawClient.send(port, rawGet('/', headers)), (c) => c.destroy())
  client.socket.pause()
  return client
}

describe('slow clients', () => {
  it('drops a client that never reads at maxBufferedBytes, with memory bounded while 50 MB are offered', async () => {
    const before = getMetrics()
    const onError = vi.fn()
    const frame = `data: ${'x'.repeat(16 * KiB - 8)}\n\n`
    const chunk = 'x'.repeat(16 * KiB - 8)
    expect(frame.length).toBe(16 * KiB)
    let stream!: EventStream
    let res!: ServerResponse
    const server = await serve(
      { heartbeat: false, maxBufferedBytes: 64 * KiB, onError },
      (s, r) => {
        stream = s
        res = r
      },
    )
    await stalledClient(server.port)
    await waitFor(() => stream)
    await tick()

    const baseline = memory()
    let offered = 0
    let peakBuffered = 0
    // A producer that never awaits send(): only maxBufferedBytes protects the server.
    while (offered < 50 * MiB) {
      void stream.send(chunk)
      offered += frame.length
      peakBuffered = Math.max(peakBuffered, res.writableLength)
      // Let the socket flush what the kernel takes, as a real server loop would.
      if (offered % (2 * frame.length) === 0) await tick()
    }
    const growth = memory() - baseline

    expect(stream.closed).toBe(true)
    expect(stream.signal.aborted).toBe(true)
    expect(getMetrics().slowClientsDropped).toBe(before.slowClientsDropped + 1)
    expect(getMetrics().openStreams).toBe(before.openStreams)
    expect(onError).toHaveBeenCalledTimes(1)
    expect(onError.mock.calls[0]![0]).toMatchObject({ code: 'ERR_SSE_SLOW_CLIENT' })
    // Far less than what was offered was ever taken, and what is buffered never grew past
    // the limit by more than the frame in flight (not counted as behind: a reading client
    // gets an event of any size) and the frame that crossed it.
    const written = getMetrics().bytesWritten - before.bytesWritten
    expect(written).toBeLessThan(offered / 2)
    // Buffered never grew past the limit by more than the frame in flight, one turn's writes
    // (two frames here: they have not had a chance to leave) and the frame that crossed.
    expect(peakBuffered).toBeLessThanOrEqual(64 * KiB + 4 * frame.length + 256)
    // Without the cut-off these 50 MB would sit in the response's buffer.
    expect(growth).toBeLessThan(8 * MiB)
    // The response is ended after what it holds: the client reads it, then the end.
    expect(res.writableEnded).toBe(true)
  })

  it('frees the connection of a cut-off client that still reads nothing after a grace period', async () => {
    let stream!: EventStream
    let res!: ServerResponse
    const server = await serve({ heartbeat: false, maxBufferedBytes: 64 * KiB }, (s, r) => {
      stream = s
      res = r
    })
    await stalledClient(server.port)
    await waitFor(() => stream)
    const closed = new Promise<void>((resolve) => res.once('close', () => resolve()))
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      while (!stream.closed) {
        void stream.send('g'.repeat(16 * KiB))
        await tick()
      }
      expect(res.writableEnded).toBe(true)
      expect(res.destroyed).toBe(false)
      vi.advanceTimersByTime(9_999)
      expect(res.destroyed).toBe(false)
      vi.advanceTimersByTime(1)
      expect(res.destroyed).toBe(true)
    } finally {
      vi.useRealTimers()
    }
    await closed
    await waitFor(
      () =>
        new Promise<boolean>((resolve) =>
          server.server.getConnections((_e, n) => resolve(n === 0)),
        ),
    )
  })

  it('gives a client that reads events of 3 MiB and 8 MiB whole, between small ones, with default options', async () => {
    const big3 = JSON.stringify({ snapshot: 'a'.repeat(3 * MiB) })
    const big8 = 'b'.repeat(8 * MiB)
    const onError = vi.fn()
    const server = await serve({ heartbeat: false, onError }, (stream) => {
      // No await: the events are offered as fast as a channel would write them.
      void stream.send({ id: 1, data: 'small 1' })
      void stream.send({ id: 2, data: big3 })
      void stream.send({ id: 3, data: 'small 2' })
      void stream.send({ id: 4, data: big8 })
      void stream.send({ id: 5, data: 'small 3' }).then(() => stream.close())
    })
    const client = cleanup.add(await fetchSse(server.url()), (f) => f.abort())
    const events = await client.reader.waitForEvents(5, 15_000)
    expect(events.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5'])
    expect(events[0]!.data).toBe('small 1')
    expect(events[1]!.data === big3).toBe(true)
    expect(events[2]!.data).toBe('small 2')
    expect(events[3]!.data === big8).toBe(true)
    expect(events[4]!.data).toBe('small 3')
    expect(onError).not.toHaveBeenCalled()
  })

  it('drops a stalled HTTP/2 client at maxBufferedBytes', async () => {
    const before = getMetrics().slowClientsDropped
    let stream!: EventStream
    let res!: http2.Http2ServerResponse
    const server = await startH2cServer((req, r) => {
      res = r
      stream = createEventStream(req, r, { heartbeat: false, maxBufferedBytes: 64 * KiB })
    })
    cleanup.add(server, (s) => s.close())
    const session = cleanup.add(http2.connect(server.url()), (s) => s.destroy())
    session.on('error', () => {})
    // A paused stream reads nothing, so flow control stops the server's data.
    const request = session.request({ ':path': '/' })
    request.on('error', () => {})
    request.pause()
    await waitFor(() => stream)
    const chunk = 'h'.repeat(16 * KiB)
    let offered = 0
    let peak = 0
    while (!stream.closed && offered < 20 * MiB) {
      void stream.send(chunk)
      offered += chunk.length
      peak = Math.max(peak, res.writableLength)
      await tick()
    }
    expect(stream.closed).toBe(true)
    expect(offered).toBeLessThan(20 * MiB)
    expect(peak).toBeLessThanOrEqual(64 * KiB + 3 * chunk.length + 256)
    expect(getMetrics().slowClientsDropped).toBe(before + 1)
  })

  it('keeps send() pending while over the high-water mark and resolves true once the client reads', async () => {
    let stream!: EventStream
    let res!: ServerResponse
    const server = await serve({ heartbeat: false, maxBufferedBytes: 256 * MiB }, (s, r) => {
      stream = s
      res = r
    })
    const client = await stalledClient(server.port)
    await waitFor(() => stream)
    const chunk = 'z'.repeat(64 * KiB)
    let pending: Promise<boolean> | undefined
    let settled = false
    // Fill the kernel's buffers and then the response's, until a send has to wait.
    for (let i = 0; i < 800 && pending === undefined; i++) {
      const sent = stream.send(chunk)
      let done = false
      void sent.then(() => {
        done = true
      })
      await tick()
      if (!done) {
        pending = sent
        void sent.then(() => {
          settled = true
        })
      }
    }
    expect(pending).toBeDefined()
    for (let i = 0; i < 5; i++) await tick()
    expect(settled).toBe(false)
    expect(res.writableLength).toBeGreaterThanOrEqual(res.writableHighWaterMark)
    expect(stream.closed).toBe(false)
    client.socket.resume()
    await expect(pending).resolves.toBe(true)
    expect(stream.closed).toBe(false)
    stream.close()
  })

  it('resolves a pending send() with false, never a rejection, when the client goes away', async () => {
    let stream!: EventStream
    const server = await serve({ heartbeat: false, maxBufferedBytes: 256 * MiB }, (s) => {
      stream = s
    })
    const client = await stalledClient(server.port)
    await waitFor(() => stream)
    const chunk = 'w'.repeat(64 * KiB)
    let pending: Promise<boolean> | undefined
    for (let i = 0; i < 800 && pending === undefined; i++) {
      const sent = stream.send(chunk)
      let done = false
      void sent.then(() => {
        done = true
      })
      await tick()
      if (!done) pending = sent
    }
    expect(pending).toBeDefined()
    client.destroy()
    await expect(pending).resolves.toBe(false)
    expect(stream.closed).toBe(true)
  })

  it('lets a dropped client resume losslessly through Last-Event-ID', async () => {
    const ids: string[] = []
    class RecordingStore extends MemoryEventStore {
      override append(name: string, event: StoreInput): StoredEvent {
        const entry = super.append(name, event)
        ids.push(entry.id)
        return entry
      }
    }
    const store = new RecordingStore({ maxEvents: 100_000 })
    const streams: EventStream[] = []
    const server = await serve({ heartbeat: false, store, maxBufferedBytes: 64 * KiB }, (s) => {
      streams.push(s)
    })
    await stalledClient(server.port)
    await waitFor(() => streams.length === 1)
    const first = streams[0]!
    let n = 0
    while (!first.closed && n < 100_000) {
      void first.send(`${n++}:${'p'.repeat(4 * KiB)}`)
      if (n % 64 === 0) await tick()
    }
    expect(first.closed).toBe(true)
    expect(ids).toHaveLength(n)

    // The client saw the first event, then fell behind; it comes back with its id.
    const again = cleanup.add(
      await fetchSse(server.url(), { headers: { 'last-event-id': ids[0]! } }),
      (f) => f.abort(),
    )
    const events = await again.reader.waitForEvents(n - 1, 10_000)
    expect(events.map((e) => e.id)).toEqual(ids.slice(1))
    expect(events.map((e) => e.data.split(':')[0])).toEqual(
      Array.from({ length: n - 1 }, (_, i) => String(i + 1)),
    )
  })
})
