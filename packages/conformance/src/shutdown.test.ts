/**
 * Graceful shutdown: the app's own shutdown ends every stream with a jittered `retry:`
 * (so that clients come back spread out) and the server's close completes;
 * `closeAllStreams()` does the same for every stream in the process.
 */
import {
  closeAllStreams,
  createChannel,
  createEventStream,
  type EventStream,
  getMetrics,
} from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { startServer, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { openMany, type SseHttpClient } from './support-channels/client.js'
import { type App, Cleanup, get, startApp, withTimeout } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const CLIENTS = 20

function track(clients: SseHttpClient[]): SseHttpClient[] {
  cleanup.add(() => {
    for (const client of clients) client.close()
  })
  return clients
}

/** An app whose route subscribes to `channel`, and `count` clients that got one event. */
async function liveClients(adapter: (typeof adapters)[number], count: number) {
  const channel = createChannel()
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
  const clients = track(await openMany(`${app.url}/feed`, count, count))
  await waitFor(() => channel.size === count, 5000, `${count} subscribers`)
  await channel.publish({ id: '1', data: 'hello' })
  for (const client of clients) await client.waitForEvents(1)
  return { app, channel, clients }
}

/**
 * Every client saw its adapter's `preamble`, then `hello`, then one `retry:` within
 * [min, max], then the end.
 */
async function expectRetriedEnd(
  clients: SseHttpClient[],
  min: number,
  max: number,
  preamble: string,
): Promise<number[]> {
  const values: number[] = []
  for (const client of clients) {
    await client.waitForEnd()
    expect(client.events).toEqual([{ id: '1', data: 'hello' }])
    expect(client.retries).toHaveLength(1)
    const ms = client.retries[0]!
    expect(ms).toBeGreaterThanOrEqual(min)
    expect(ms).toBeLessThanOrEqual(max)
    expect(client.text).toBe(`${preamble}id: 1\ndata: hello\n\nretry: ${ms}\n\n`)
    values.push(ms)
  }
  return values
}

describe.each(adapters)('$name', (adapter) => {
  it('ends every stream on shutdown with a retry spread over { ms, jitter }, and the server closes', async () => {
    const { app, channel, clients } = await liveClients(adapter, CLIENTS)
    expect(app.openStreams()).toBe(CLIENTS)

    await withTimeout(app.close({ retry: { ms: 2000, jitter: 3000 } }), 5000, 'app.close()')
    const values = await expectRetriedEnd(clients, 2000, 5000, adapter.preamble)
    // 20 draws from 3001 values: a handful of repeats at most, never one value for all.
    expect(new Set(values).size).toBeGreaterThanOrEqual(10)
    expect(app.openStreams()).toBe(0)
    expect(channel.size).toBe(0)
  })

  it('uses 1 s plus up to 9 s of jitter when shutdown is given no retry', async () => {
    const { app, clients } = await liveClients(adapter, CLIENTS)
    await withTimeout(app.close(), 5000, 'app.close()')
    const values = await expectRetriedEnd(clients, 1000, 10_000, adapter.preamble)
    expect(new Set(values).size).toBeGreaterThanOrEqual(10)
  })
})

describe('closeAllStreams()', () => {
  it('ends every stream in the process, whichever app or server opened it', async () => {
    const before = getMetrics()
    const apps: App[] = []
    const clients: SseHttpClient[] = []
    // Each adapter's clients with what their bodies start with.
    const groups: { clients: SseHttpClient[]; preamble: string }[] = []
    for (const adapter of adapters) {
      const live = await liveClients(adapter, 3)
      apps.push(live.app)
      clients.push(...live.clients)
      groups.push({ clients: live.clients, preamble: adapter.preamble })
    }
    // And a stream opened on plain node:http through core.
    const plain: EventStream[] = []
    const server = await startServer((req, res) => {
      const stream = createEventStream(req, res, { heartbeat: false })
      plain.push(stream)
      void stream.send({ id: '1', data: 'hello' })
    })
    cleanup.add(() => server.close())
    const plainClients = track(await openMany(server.url('/'), 2, 2))
    clients.push(...plainClients)
    groups.push({ clients: plainClients, preamble: '' })
    for (const client of clients) await client.waitForEvents(1)
    expect(getMetrics().openStreams - before.openStreams).toBe(adapters.length * 3 + 2)

    closeAllStreams({ retry: { ms: 500, jitter: 500 } })
    for (const group of groups) await expectRetriedEnd(group.clients, 500, 1000, group.preamble)
    expect(groups.flatMap((group) => group.clients)).toEqual(clients)
    expect(plain.every((s) => s.closed)).toBe(true)
    expect(apps.map((app) => app.openStreams())).toEqual(adapters.map(() => 0))
    expect(getMetrics().openStreams).toBe(before.openStreams)
    for (const app of apps)
      await withTimeout(app.close(), 5000, 'app.close() after closeAllStreams')
  })
})
