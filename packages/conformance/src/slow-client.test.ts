/**
 * A client that stops reading is dropped once it is `maxBufferedBytes` behind, so that its
 * memory stays bounded, and the server keeps serving everyone else.
 */
import { type EventStream, getMetrics, SseError } from '@ssekit/core'
import { describe, expect, it } from 'vitest'
import { deferred, rawGet, waitFor } from '../../core/src/test-utils/index.js'
import { adapters, type Route } from './adapters.js'
import { portOf, useHarness } from './support/harness.js'

const MAX_BUFFERED = 256 * 1024
const BIG = 'x'.repeat(64 * 1024)

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  const ping: Route = {
    method: 'GET',
    path: '/ping',
    options: { heartbeat: false },
    handler: async (stream) => {
      await stream.send('pong')
      stream.close()
    },
  }

  async function pings(url: string) {
    const { reader } = await h.fetchSse(`${url}/ping`)
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: pong\n\n`)
  }

  it('drops a client that never reads once it is maxBufferedBytes behind, and serves others', async () => {
    const droppedBefore = getMetrics().slowClientsDropped
    const opened = deferred<EventStream>()
    const reported: unknown[] = []
    let sends = 0
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/firehose',
        options: {
          heartbeat: false,
          maxBufferedBytes: MAX_BUFFERED,
          onError: (error) => {
            reported.push(error)
          },
        },
        handler: (stream) => {
          opened.resolve(stream)
          // A producer that never awaits send(): only maxBufferedBytes stops it.
          const pump = () => {
            if (stream.closed) return
            void stream.send(BIG)
            sends++
            setImmediate(pump)
          }
          pump()
        },
      },
      ping,
    ])
    const slow = await h.raw(portOf(app), rawGet('/firehose'))
    slow.socket.pause()
    const stream = await opened.promise
    await pings(app.url)

    await waitFor(() => stream.closed, 10_000, 'the slow client being dropped')
    expect(getMetrics().slowClientsDropped).toBe(droppedBefore + 1)
    expect(reported).toHaveLength(1)
    expect(reported[0]).toBeInstanceOf(SseError)
    expect((reported[0] as SseError).code).toBe('ERR_SSE_SLOW_CLIENT')
    expect(app.openStreams()).toBe(0)
    const sendsAtDrop = sends
    // The response is over: once the client reads again it sees the end, not more data
    // (the last chunk of the chunked body; Node also closes the connection).
    slow.socket.resume()
    await slow.waitForBytes((bytes) => bytes.includes('\r\n0\r\n\r\n'), 5000)
    expect(sends).toBe(sendsAtDrop)
    await expect(stream.send('late')).resolves.toBe(false)
    await pings(app.url)
  })

  it('keeps a client that reads as fast as the producer writes', async () => {
    const opened = deferred<EventStream>()
    let sent = 0
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/firehose',
        options: { heartbeat: false, maxBufferedBytes: MAX_BUFFERED },
        handler: async (stream) => {
          opened.resolve(stream)
          // A producer that honours backpressure is never dropped, however much it sends.
          for (let i = 0; i < 64; i++) {
            if (!(await stream.send(BIG))) return
            sent++
          }
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/firehose`)
    await reader.readToEnd(10_000)
    const stream = await opened.promise
    expect(stream.closed).toBe(true)
    expect(sent).toBe(64)
    expect(reader.events).toHaveLength(64)
    expect(reader.error).toBe(undefined)
  })
})
