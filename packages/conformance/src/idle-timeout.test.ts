/**
 * A load balancer's idle timeout, through every adapter: a TCP proxy that, like an AWS ALB
 * or Cloudflare, closes any connection that carried no byte either way for a while. The
 * advice "set `heartbeat` under your load balancer's idle timeout" is shown both ways: with
 * the heartbeat under it, a quiet stream survives and gets its next event; without a
 * heartbeat, the proxy cuts the stream, and the next event never reaches the client.
 */
import net from 'node:net'
import type { EventStream } from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { deferred, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { openSse } from './support-channels/client.js'
import { Cleanup, get, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** The proxy's idle timeout. */
const IDLE_MS = 600
/** Under it, with room for a loaded machine. */
const HEARTBEAT_MS = 200

interface IdleProxy {
  /** `http://127.0.0.1:PORT`, the proxy's address. */
  url: string
  /** Connections accepted so far. */
  connections: number
  /** Each connection the proxy cut, with how long it had been idle (ms). */
  cuts: { idleFor: number }[]
  close(): Promise<void>
}

/**
 * A TCP proxy to `upstream` on a free loopback port that closes, both ways, any connection
 * that carried no byte in either direction for `idleMs`.
 */
async function startIdleProxy(upstream: string, idleMs: number): Promise<IdleProxy> {
  const target = new URL(upstream)
  const sockets = new Set<net.Socket>()
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => sockets.delete(socket))
  }
  const server = net.createServer((client) => {
    proxy.connections++
    const origin = net.connect(Number(target.port), target.hostname)
    track(client)
    track(origin)
    let last = performance.now()
    const touch = () => {
      last = performance.now()
    }
    client.on('data', touch)
    origin.on('data', touch)
    client.pipe(origin)
    origin.pipe(client)
    // Every byte either way goes through the client's socket (read from it, or written to
    // it), and each resets its timeout.
    client.setTimeout(idleMs, () => {
      proxy.cuts.push({ idleFor: performance.now() - last })
      client.destroy()
      origin.destroy()
    })
    client.once('close', () => origin.destroy())
    origin.once('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const proxy: IdleProxy = {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: 0,
    cuts: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
  cleanup.add(() => proxy.close())
  return proxy
}

describe.each(adapters)('$name behind a proxy that closes idle connections', (adapter) => {
  /**
   * Starts the app with `/quiet`: one event, then nothing until `next` is resolved, then a
   * second event; and opens a client through the proxy that has read the first event.
   */
  async function quietStream(heartbeat: number | false) {
    const next = deferred()
    const opened = deferred<EventStream>()
    const sent: boolean[] = []
    const app = await startApp(
      cleanup,
      adapter,
      [
        get('/quiet', async (stream) => {
          opened.resolve(stream)
          sent.push(await stream.send({ data: 'hello' }))
          await next.promise
          sent.push(await stream.send({ data: 'after the quiet' }))
        }),
      ],
      { heartbeat },
    )
    const proxy = await startIdleProxy(app.url, IDLE_MS)
    const client = await openSse(`${proxy.url}/quiet`)
    cleanup.add(() => client.close())
    expect(client.status).toBe(200)
    expect(await client.waitForEvents(1)).toEqual([{ data: 'hello' }])
    return { app, proxy, client, next, sent, stream: await opened.promise }
  }

  it('keeps a stream quiet for 2 s open with a heartbeat under the idle timeout', async () => {
    const { proxy, client, next, sent } = await quietStream(HEARTBEAT_MS)
    const quietFrom = performance.now()
    const comments = client.comments.length
    // 2 s without an event, more than three idle timeouts: ten heartbeats cross the proxy.
    await waitFor(
      () => client.ended || client.comments.length - comments >= 10,
      10_000,
      'ten heartbeats',
    )
    expect(client.ended).toBe(false)
    expect(performance.now() - quietFrom).toBeGreaterThanOrEqual(3 * IDLE_MS)
    expect(proxy.cuts).toEqual([])

    next.resolve()
    expect(await client.waitForEvents(2)).toEqual([{ data: 'hello' }, { data: 'after the quiet' }])
    expect(sent).toEqual([true, true])
    // Only heartbeats in between, on the one connection the client opened.
    expect(client.text.replaceAll(':\n\n', '')).toBe('data: hello\n\ndata: after the quiet\n\n')
    expect(proxy.connections).toBe(1)
    expect(proxy.cuts).toEqual([])
  })

  it('is cut by the proxy after its idle timeout without a heartbeat, losing the next event', async () => {
    const { app, proxy, client, next, sent, stream } = await quietStream(false)
    await client.waitForEnd(10_000)
    expect(proxy.cuts).toHaveLength(1)
    expect(proxy.cuts[0]!.idleFor).toBeGreaterThanOrEqual(IDLE_MS - 1)
    expect(client.text).toBe(`${adapter.preamble}data: hello\n\n`)

    // The server sees the cut as a disconnect: the next event is never delivered.
    await waitFor(() => stream.closed, 5000, 'the server saw the cut')
    await waitFor(() => app.openStreams() === 0, 5000, 'no open stream')
    next.resolve()
    await waitFor(() => sent.length === 2, 5000, 'the second send settled')
    expect(sent).toEqual([true, false])
    expect(client.events).toEqual([{ data: 'hello' }])
  })
})
