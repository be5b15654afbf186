import type { IncomingMessage } from 'node:http'
import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { getMetrics } from './metrics.js'
import type { StreamOptions } from './options.js'
import type { EventStore, Gap, ReadResult, StoredEvent, StoreInput } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import type { EventStream } from './stream.js'
import {
  Cleanup,
  type Deferred,
  deferred,
  fetchSse,
  parseSse,
  RawClient,
  rawGet,
  splitResponse,
  startServer,
  WrappedStore,
  waitFor,
} from './test-utils/index.js'
import { createEventStream } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

async function serve(
  options: StreamOptions,
  handler: (stream: EventStream, req: IncomingMessage) => void | Promise<void> = () => {},
  serverOptions = {},
) {
  const streams: EventStream[] = []
  const server = await startServer((req, res) => {
    const stream = createEventStream(req, res, options)
    streams.push(stream)
    void handler(stream, req)
  }, serverOptions)
  cleanup.add(server, (s) => s.close())
  return { server, streams }
}

/** A MemoryEventStore whose `read` answers only when the test opens `gate`. */
class SlowStore extends WrappedStore {
  readonly reading = deferred()
  gate: Deferred<void> = deferred()

  /**
   * @param snapshotFirst read the inner store before waiting (the events appended while it
   * waits are not in the result) or after (they are)
   * @param asyncAppend make `append` asynchronous too
   */
  constructor(
    readonly snapshotFirst: boolean,
    readonly asyncAppend = false,
  ) {
    super()
  }

  override append(name: string, event: StoreInput): StoredEvent | Promise<StoredEvent> {
    const entry = this.inner.append(name, event)
    return this.asyncAppend ? new Promise((resolve) => setTimeout(() => resolve(entry), 1)) : entry
  }

  override async read(name: string, after: string | undefined, limit: number) {
    const early = this.snapshotFirst ? this.inner.read(name, after, limit) : undefined
    this.reading.resolve()
    await this.gate.promise
    return early ?? this.inner.read(name, after, limit)
  }
}

/** A stream's own `store` option writes to, and replays from, the store's 'default' log. */
const OWN = 'default'

describe('replay across a reconnect', () => {
  it('gives an EventSource that reconnects with Last-Event-ID exactly the missed events, in order, once each', async () => {
    const store = new MemoryEventStore()
    const ids: string[] = []
    const lastEventIds: (string | undefined)[] = []
    const { server, streams } = await serve(
      { heartbeat: false, retry: 10, store },
      async (stream, req) => {
        lastEventIds.push(req.headers['last-event-id'] as string | undefined)
        if (streams.length === 1) {
          for (const data of ['1', '2', '3']) await stream.send(data)
        } else {
          await stream.send('6')
        }
      },
    )
    const es = cleanup.add(new EventSource(server.url()), (e) => e.close())
    const got: { data: string; id: string }[] = []
    es.onmessage = (e) => got.push({ data: e.data, id: e.lastEventId })
    await waitFor(() => got.length === 3)
    // The server ends the response; while the client is away, the job goes on.
    streams[0]!.close()
    ids.push(store.append(OWN, { data: '4' }).id, store.append(OWN, { data: '5' }).id)
    await waitFor(() => got.length >= 6)
    // A last live event: once it arrives, anything duplicated would have arrived too.
    await streams[1]!.send('7')
    await waitFor(() => got.length >= 7)
    expect(got.map((e) => e.data)).toEqual(['1', '2', '3', '4', '5', '6', '7'])
    expect(new Set(got.map((e) => e.id)).size).toBe(7)
    expect(got.slice(3, 5).map((e) => e.id)).toEqual(ids)
    expect(lastEventIds).toEqual([undefined, got[2]!.id])
    expect(streams[1]!.lastEventId).toBe(got[2]!.id)
  })

  it('counts the replay and the events it wrote', async () => {
    const store = new MemoryEventStore()
    const first = store.append(OWN, { data: 'a' }).id
    store.append(OWN, { data: 'b', event: 'named' })
    store.append(OWN, { data: 'c' })
    const before = getMetrics()
    const { server } = await serve({ heartbeat: false, store })
    const client = cleanup.add(
      await fetchSse(server.url(), { headers: { 'last-event-id': first } }),
      (c) => c.abort(),
    )
    const events = await client.reader.waitForEvents(2)
    expect(events.map(({ data, event }) => ({ data, event }))).toEqual([
      { data: 'b', event: 'named' },
      { data: 'c', event: undefined },
    ])
    expect(getMetrics().replays).toBe(before.replays + 1)
    expect(getMetrics().eventsReplayed).toBe(before.eventsReplayed + 2)
    expect(getMetrics().gaps).toBe(before.gaps)
  })

  const races: [string, boolean, boolean][] = [
    ['a slow read that sees the sends made while it waits', false, false],
    ['a slow read that does not see them', true, false],
    ['a slow read and an async append', false, true],
    ['a slow read that does not see them and an async append', true, true],
  ]
  for (const [name, snapshotFirst, asyncAppend] of races) {
    it(`loses and duplicates nothing when sends race with ${name}`, async () => {
      const store = new SlowStore(snapshotFirst, asyncAppend)
      const seed = ['e1', 'e2', 'e3', 'e4', 'e5'].map(
        (data) => store.inner.append(OWN, { data }).id,
      )
      const { server, streams } = await serve({ heartbeat: false, store }, async (stream) => {
        await store.reading.promise
        // The replay is waiting for the store: these must queue behind it.
        const during = [stream.send('live-1'), stream.send('live-2')]
        store.gate.resolve()
        await Promise.all(during)
        await stream.send('live-3')
      })
      const client = cleanup.add(
        await fetchSse(server.url(), { headers: { 'last-event-id': seed[1]! } }),
        (c) => c.abort(),
      )
      await client.reader.waitForEvents(6)
      // A sentinel: once it is here, a duplicate would have been too.
      await streams[0]!.send('end')
      await client.reader.waitForEvents(7)
      expect(client.reader.events.map((e) => e.data)).toEqual([
        'e3',
        'e4',
        'e5',
        'live-1',
        'live-2',
        'live-3',
        'end',
      ])
      const ids = client.reader.events.map((e) => e.id!)
      expect(ids.slice(0, 3)).toEqual(seed.slice(2))
      // Every id is the store's, and they grow in the order they arrived.
      expect(ids.map((id) => Number(id.split('-')[1]))).toEqual([3, 4, 5, 6, 7, 8, 9])
    })
  }
})

describe('gaps', () => {
  async function resume(lastEventId: string, store: EventStore, extra: StreamOptions = {}) {
    const onGap = vi.fn(async (_gap: Gap, stream: EventStream) => {
      await stream.send({ event: 'snapshot', data: 'full state' })
    })
    const before = getMetrics().gaps
    const { server, streams } = await serve(
      { heartbeat: false, store, onGap, ...extra },
      async (stream) => {
        await stream.send('live')
      },
    )
    const client = cleanup.add(
      await fetchSse(server.url(), { headers: { 'last-event-id': lastEventId } }),
      (c) => c.abort(),
    )
    await client.reader.waitForEvents(2)
    expect(onGap).toHaveBeenCalledTimes(1)
    expect(onGap.mock.calls[0]![1]).toBe(streams[0])
    expect(getMetrics().gaps).toBe(before + 1)
    return { gap: onGap.mock.calls[0]![0], reader: client.reader }
  }

  it("reports an id the store never gave out as an 'unknown' gap, and replays nothing", async () => {
    const store = new MemoryEventStore()
    store.append(OWN, { data: 'kept' })
    const other = new MemoryEventStore().append(OWN, { data: 'elsewhere' }).id
    const { gap, reader } = await resume(other, store)
    expect(gap).toEqual({ reason: 'unknown', lastEventId: other })
    expect(reader.events.map((e) => e.data).sort()).toEqual(['full state', 'live'])
  })

  it("reports an id whose followers were evicted as an 'expired' gap", async () => {
    const store = new MemoryEventStore({ maxEvents: 2 })
    const [old] = ['a', 'b', 'c', 'd'].map((data) => store.append(OWN, { data }).id)
    const { gap, reader } = await resume(old!, store)
    expect(gap).toEqual({ reason: 'expired', lastEventId: old })
    expect(reader.events.map((e) => e.data)).not.toContain('b')
  })

  it("reports a Last-Event-ID that cannot be an id as an 'invalid' gap", async () => {
    const store = new MemoryEventStore()
    store.append(OWN, { data: 'x' })
    const long = 'L'.repeat(2000)
    const { gap } = await resume(long, store)
    expect(gap).toEqual({ reason: 'invalid', lastEventId: 'L'.repeat(1024) })
  })

  it('delivers sends queued during a gap before onGap runs, each once', async () => {
    const store = new MemoryEventStore()
    const { reader } = await resume('nope', store)
    await waitFor(() => reader.events.length >= 2)
    expect(reader.events).toEqual([
      { data: 'live', id: expect.any(String) },
      { event: 'snapshot', data: 'full state', id: expect.any(String) },
    ])
  })

  it('reports an onGap that throws to onError and keeps the stream open', async () => {
    const onError = vi.fn()
    const failure = new Error('snapshot failed')
    const { server, streams } = await serve({
      heartbeat: false,
      store: new MemoryEventStore(),
      onGap: () => {
        throw failure
      },
      onError,
    })
    const client = cleanup.add(
      await fetchSse(server.url(), { headers: { 'last-event-id': 'zzz' } }),
      (c) => c.abort(),
    )
    await waitFor(() => onError.mock.calls.length > 0)
    expect(onError).toHaveBeenCalledWith(failure, streams[0])
    await streams[0]!.send('still open')
    await client.reader.waitForEvents(1)
  })

  it('closes the stream and reports a store whose read fails', async () => {
    const onError = vi.fn()
    const failure = new Error('store down')
    const store = new (class extends WrappedStore {
      override read(): Promise<ReadResult> {
        return Promise.reject(failure)
      }
    })()
    const { server, streams } = await serve({ heartbeat: false, store, onError })
    const client = await fetchSse(server.url(), { headers: { 'last-event-id': 'x-1' } })
    expect(await client.reader.readToEnd()).toBe('')
    expect(onError).toHaveBeenCalledWith(failure, streams[0])
    expect(streams[0]!.closed).toBe(true)
  })
})

describe('hostile Last-Event-ID values', () => {
  /**
   * Sends `request` over a raw socket to a server with a store and a gap handler that
   * answers with a snapshot; returns the raw response and what the server saw.
   */
  async function attack(request: string | Buffer, options: StreamOptions = {}) {
    const onGap = vi.fn(async (_gap: Gap, stream: EventStream) => {
      await stream.send({ event: 'snapshot', data: 'ok' })
      stream.close()
    })
    const onError = vi.fn()
    const store = new MemoryEventStore()
    store.append(OWN, { data: 'x' })
    // Node counts the request line in its 16 KiB header limit and would answer 431 to a
    // 16 KiB query before any of our code ran; raise it so that the value reaches us.
    const { server, streams } = await serve(
      { heartbeat: false, store, onGap, onError, ...options },
      undefined,
      { maxHeaderSize: 64 * 1024 },
    )
    const client = cleanup.add(await RawClient.send(server.port, request), (c) => c.destroy())
    const bytes = await client.waitForBytes((b) => b.includes('data: ok\n\n'))
    const { head, body } = splitResponse(bytes)
    // The server is alive and answers the next request normally.
    const next = cleanup.add(await fetchSse(server.url()), (c) => c.abort())
    expect(next.response.status).toBe(200)
    expect(onError).not.toHaveBeenCalled()
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
    expect(parseSse(body.toString('utf8')).events).toEqual([
      { event: 'snapshot', id: expect.any(String), data: 'ok' },
    ])
    return { bytes, gap: onGap.mock.calls[0]?.[0], stream: streams[0]! }
  }

  it('ignores a 16 KiB Last-Event-ID in the query parameter and never writes it', async () => {
    const value = 'hostile-'.repeat(2048)
    const { bytes, gap, stream } = await attack(rawGet(`/?lastEventId=${value}`), {
      lastEventIdQuery: 'lastEventId',
    })
    expect(value.length).toBe(16 * 1024)
    expect(gap).toEqual({ reason: 'invalid', lastEventId: value.slice(0, 1024) })
    expect(stream.lastEventId).toBe(undefined)
    expect(bytes.includes('hostile-hostile-')).toBe(false)
  })

  it('ignores an 8 KiB Last-Event-ID header and never writes it', async () => {
    const value = 'evil8k'.repeat(1366)
    const { bytes, gap } = await attack(rawGet('/', [`Last-Event-ID: ${value}`]))
    expect(gap?.reason).toBe('invalid')
    expect(bytes.includes('evil8kevil8k')).toBe(false)
  })

  it('ignores CR and LF sent as %0D%0A in the query parameter and never writes them', async () => {
    const { bytes, gap, stream } = await attack(
      rawGet('/?lastEventId=x%0D%0Aevent:%20injected%0D%0Adata:%20pwned%0A%0A'),
      { lastEventIdQuery: 'lastEventId' },
    )
    expect(gap).toEqual({
      reason: 'invalid',
      lastEventId: 'x\r\nevent: injected\r\ndata: pwned\n\n',
    })
    expect(stream.lastEventId).toBe(undefined)
    expect(bytes.includes('injected')).toBe(false)
    expect(bytes.includes('pwned')).toBe(false)
  })

  it('ignores a NUL sent as %00 in the query parameter', async () => {
    const { gap } = await attack(rawGet('/?lastEventId=a%00b'), { lastEventIdQuery: 'lastEventId' })
    expect(gap).toEqual({ reason: 'invalid', lastEventId: 'a\0b' })
  })

  it('reports non-UTF-8 bytes in the header as an unknown id and never writes them', async () => {
    const request = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: ', 'latin1'),
      Buffer.from([0xff, 0xfe, 0x80, 0xc3, 0x28, 0x41]),
      Buffer.from('\r\n\r\n', 'latin1'),
    ])
    const { bytes, gap } = await attack(request)
    expect(gap?.reason).toBe('unknown')
    expect(bytes.includes(Buffer.from([0xff, 0xfe]))).toBe(false)
    // Nor as what node decoded them to (latin1), re-encoded in UTF-8.
    expect(bytes.includes(Buffer.from('\u00ff\u00fe', 'utf8'))).toBe(false)
  })

  it('ignores non-UTF-8 percent-escapes in the query parameter', async () => {
    const { bytes, gap } = await attack(rawGet('/?lastEventId=%FF%FE%C3%28zz'), {
      lastEventIdQuery: 'lastEventId',
    })
    expect(gap?.reason).toBe('unknown')
    expect(bytes.includes('zz')).toBe(false)
  })
})
