/**
 * RedisEventStore against a real redis-server: named logs with gap-free sequences, exact
 * replay in bounded batches, gaps reported exactly as the memory store reports them, end,
 * leases and cancel, and a fixed number of connections however many logs.
 */
import { createClient } from '@redis/client'
import { createChannel, type EventStream, type Gap, SseError } from '@ssekit/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { memoryStream, waitFor } from '../../core/src/test-utils/index.js'
import { RedisEventStore } from './index.js'
import { RedisServer } from './test-utils/redis-server.js'

let server: RedisServer
let admin: ReturnType<typeof createClient>
const open: { close(): unknown }[] = []
let n = 0
/** A fresh prefix per test, so that tests never see each other's logs. */
const prefix = () => `t${++n}:`
const lastPrefix = () => `t${n}:`

beforeAll(async () => {
  server = await RedisServer.start()
  admin = createClient({ url: server.url })
  await admin.connect()
})
afterAll(async () => {
  admin?.destroy()
  await server?.close()
})
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close()
})

function store(options: Partial<ConstructorParameters<typeof RedisEventStore>[0]> = {}) {
  const s = new RedisEventStore({ url: server.url, prefix: prefix(), ...options })
  open.push(s)
  return s
}

function stream(lastEventId?: string) {
  const made = memoryStream({ heartbeat: false }, lastEventId === undefined ? {} : { lastEventId })
  open.push(made.stream)
  return made
}

describe('RedisEventStore', () => {
  it('gives each log its own gap-free sequence and ids that carry its epoch', async () => {
    const s = store()
    const a1 = await s.append('a', { data: 'one' })
    const b1 = await s.append('b', { data: 'uno' })
    const a2 = await s.append('a', { data: 'two', event: 'tick', retry: 5, serialized: true })
    expect([a1.seq, a2.seq, b1.seq]).toEqual([1, 2, 1])
    expect(a1.epoch).toBe(a2.epoch)
    expect(a1.epoch).not.toBe(b1.epoch)
    expect(a2.id).toMatch(new RegExp(`^${a2.epoch}-\\d+-2$`))
    const read = await s.read('a', a1.id, 10)
    expect(read.events).toEqual([
      {
        id: a2.id,
        seq: 2,
        epoch: a2.epoch,
        data: 'two',
        event: 'tick',
        retry: 5,
        serialized: true,
      },
    ])
    expect((await s.read('a', undefined, 10)).events?.map((e) => e.data)).toEqual(['one', 'two'])
  })

  it('reads a long log in bounded batches, exactly once and in order', async () => {
    const s = store()
    const ids: string[] = []
    for (let i = 1; i <= 1200; i++) ids.push((await s.append('long', { data: String(i) })).id)
    const first = await s.read('long', ids[0], 500)
    expect(first.events?.map((e) => e.data)).toEqual(
      Array.from({ length: 500 }, (_, i) => String(i + 2)),
    )
    const next = await s.read('long', first.events!.at(-1)!.id, 500)
    expect(next.events?.[0]?.seq).toBe(502)
    const all = []
    let after: string | undefined = ids[0]
    for (;;) {
      const r = await s.read('long', after, 500)
      all.push(...r.events!)
      if (r.events!.length < 500) break
      after = r.events!.at(-1)!.id
    }
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 1199 }, (_, i) => i + 2))
  })

  it('reports a trimmed id as expired, and an id of a lost log, newer than the log or hostile as unknown', async () => {
    const s = store({ maxLen: 10 })
    const first = await s.append('trim', { data: '1' })
    for (let i = 2; i <= 300; i++) await s.append('trim', { data: String(i) })
    const gap = async (id: string) => (await s.read('trim', id, 10)).gap as Gap
    expect(await gap(first.id)).toEqual({ reason: 'expired', lastEventId: first.id })
    const [epoch] = first.id.split('-')
    expect((await gap(`${epoch}-9999999999999-301`)).reason).toBe('unknown')
    expect((await gap(`zzzzzzzzzz-${first.id.split('-')[1]}-1`)).reason).toBe('unknown')
    const hostile = [
      'x'.repeat(5000),
      "1'); redis.call('FLUSHALL'); --",
      `${epoch}-1-1\r\nFLUSHALL`,
      `${epoch}-+-1`,
      `${epoch}-(-1`,
      '',
      `${epoch}-1-0`,
    ]
    for (const id of hostile) {
      const result = await s.read('trim', id, 10)
      expect(result.gap?.reason).toBe('unknown')
      expect(result.gap!.lastEventId.length).toBeLessThanOrEqual(1024)
    }
    // Nothing was flushed: the log is still there.
    expect((await s.info('trim')).last?.seq).toBe(300)
  })

  it('never sends a hostile Last-Event-ID to Redis: it is checked before any command', async () => {
    const s = store()
    await s.append('safe', { data: 'x' })
    const seen: string[] = []
    const monitor = admin.duplicate()
    await monitor.connect()
    open.push({ close: () => monitor.destroy() })
    await monitor.monitor((line: string) => seen.push(line))
    const hostile = 'EVIL-"\\r\\nFLUSHALL'
    const result = await s.read('safe', hostile, 10)
    expect(result.gap?.reason).toBe('unknown')
    await s.info('safe')
    await waitFor(() => seen.some((line) => line.includes('HMGET') || line.includes('EVALSHA')))
    expect(seen.filter((line) => line.includes('EVIL'))).toEqual([])
  })

  it('ends a log: followers get the end, a reader gets it last, publishing after it rejects', async () => {
    const s = store({ endedTtlMs: 60_000 })
    const ch = createChannel({ name: 'job', store: s })
    const live = stream()
    await ch.subscribe(live.stream)
    const id = await ch.publish('working')
    await ch.end({ event: 'done', data: 'ok' })
    await waitFor(() => live.stream.closed, 5000, 'the live subscriber closed')
    expect(live.transport.text).toMatch(
      new RegExp(`^id: ${id}\\ndata: working\\n\\nevent: done\\nid: \\S+\\ndata: ok\\n\\n$`),
    )
    const lastId = /id: (\S+)\ndata: ok/.exec(live.transport.text)![1]!
    // A reconnect that has everything: 204, so that a browser stops.
    const done = stream(lastId)
    await ch.subscribe(done.stream)
    expect(done.transport.status).toBe(204)
    // A late reader without an id: the whole log, then the end.
    const late = stream()
    await ch.subscribe(late.stream)
    await waitFor(() => late.stream.closed, 5000, 'the late reader closed')
    expect(late.transport.text).toBe(live.transport.text)
    await expect(ch.publish('more')).rejects.toMatchObject({ code: 'ERR_SSE_LOG_ENDED' })
    expect(await ch.ended()).toBe(true)
  })

  it('tells a name that has no log from one that has', async () => {
    const s = store()
    const ch = createChannel({ name: 'maybe', store: s })
    expect(await ch.exists()).toBe(false)
    const lease = await ch.lease()
    expect(await ch.exists()).toBe(true)
    await lease.release()
  })

  it('lets one producer hold a lease; a cancel from another instance reaches it within a second', async () => {
    const p = prefix()
    const here = new RedisEventStore({ url: server.url, prefix: p })
    const there = new RedisEventStore({ url: server.url, prefix: p })
    open.push(here, there)
    const mine = createChannel({ name: 'answer', store: here })
    const theirs = createChannel({ name: 'answer', store: there })
    const lease = await mine.lease({ ttlMs: 2000 })
    await expect(theirs.lease()).rejects.toMatchObject({ code: 'ERR_SSE_LEASED' })
    const sent = performance.now()
    await theirs.cancel()
    await waitFor(() => lease.signal.aborted, 1000, 'the cancel reached the producer')
    expect(performance.now() - sent).toBeLessThan(1000)
    await lease.release()
    const again = await theirs.lease()
    await again.release()
  })

  it('ends the log with an error event when the producer holding the lease stops renewing it', async () => {
    const p = prefix()
    const producer = new RedisEventStore({ url: server.url, prefix: p })
    const reader = new RedisEventStore({ url: server.url, prefix: p })
    open.push(reader)
    const ch = createChannel({ name: 'stuck', store: producer })
    await ch.lease({ ttlMs: 500 })
    await ch.publish('partial')
    const sub = stream()
    await createChannel({ name: 'stuck', store: reader }).subscribe(sub.stream)
    // The producer's process dies: nothing renews its lease any more.
    producer.close()
    const started = performance.now()
    await waitFor(() => sub.stream.closed, 5000, 'the log ended')
    expect(performance.now() - started).toBeLessThan(3000)
    expect(sub.transport.text).toMatch(
      /^event: error\nid: \S+\ndata: \{"reason":"producer-lost"\}\n\n$/,
    )
  })

  it('uses two connections of its own however many channels it follows (10,000 here)', async () => {
    const s = store()
    const streams: EventStream[] = []
    for (let i = 0; i < 10_000; i++) {
      const made = memoryStream({ heartbeat: false })
      streams.push(made.stream)
      await createChannel({ name: `job:${i}`, store: s }).subscribe(made.stream)
    }
    const clients = String(await admin.sendCommand(['CLIENT', 'LIST']))
      .trim()
      .split('\n')
    // Ours (commands, pub/sub) and the admin client of this test.
    expect(clients.length).toBe(3)
    const subscribed = (await admin.sendCommand(['PUBSUB', 'NUMPAT'])) as number
    expect(subscribed).toBe(0)
    const numsub = (await admin.sendCommand([
      'PUBSUB',
      'NUMSUB',
      `${lastPrefix()}{job:0}`,
      `${lastPrefix()}{job:9999}`,
    ])) as (string | number)[]
    expect(numsub.filter((_, i) => i % 2 === 1)).toEqual([1, 1])
    for (const st of streams) st.close()
  })

  it('rejects a bad option naming it', () => {
    expect(() => new RedisEventStore({} as never)).toThrow(/give option "redis"/)
    expect(
      () => new RedisEventStore({ url: server.url, redis: createClient({ url: server.url }) }),
    ).toThrow(/either option "redis" \(your client\) or option "url", not both/)
    const ioredisLike = { status: 'wait', options: {}, duplicate() {}, sendCommand() {} }
    expect(() => new RedisEventStore({ redis: ioredisLike as never })).toThrow(
      /looks like an ioredis client, which is not supported/,
    )
    expect(() => new RedisEventStore({ redis: { duplicate() {} } as never })).toThrow(
      /option "redis" must be a node-redis client/,
    )
    expect(() => new RedisEventStore({ url: 'http://x' })).toThrow(
      /option "url" must be a redis:\/\//,
    )
    expect(() => new RedisEventStore({ url: server.url, maxLen: -1 })).toThrow(/option "maxLen"/)
    expect(() => new RedisEventStore({ url: server.url, prefx: 'x' } as never)).toThrow(
      /unknown option "prefx"/,
    )
    expect(SseError).toBeDefined()
  })
})

describe('RedisEventStore careless input', () => {
  it('reports a forged id whose sequence does not match its entry as unknown, not expired', async () => {
    const s = store()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await s.append('forged', { data: String(i) })).id)
    const [epoch] = ids[3]!.split('-')
    // Entry 2's sequence with a time it never had: not an id this log gave out.
    const forged = `${epoch}-1-2`
    expect((await s.read('forged', forged, 10)).gap).toEqual({
      reason: 'unknown',
      lastEventId: forged,
    })
    expect((await s.read('forged', ids[2]!, 10)).events?.map((e) => e.data)).toEqual(['3', '4'])
  })

  it('does nothing when a log is ended again, but refuses a second final event', async () => {
    const s = store()
    const ch = createChannel({ name: 'twice', store: s })
    await ch.end({ data: 'first' })
    await ch.end()
    await expect(ch.end({ data: 'second' })).rejects.toMatchObject({ code: 'ERR_SSE_LOG_ENDED' })
    expect((await s.read('twice', undefined, 10)).events?.map((e) => e.data)).toEqual(['first', ''])
  })

  it('rejects within commandTimeoutMs when Redis accepts connections but never answers', async () => {
    const net = await import('node:net')
    const sockets = new Set<import('node:net').Socket>()
    const mute = await new Promise<import('node:net').Server>((resolve) => {
      // Takes connections, reads what it is sent, answers nothing.
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on('error', () => {})
      })
      server.listen(0, '127.0.0.1', () => resolve(server))
    })
    open.push({
      close: () => {
        for (const socket of sockets) socket.destroy()
        return new Promise((r) => mute.close(() => r(undefined)))
      },
    })
    const { port } = mute.address() as import('node:net').AddressInfo
    const s = new RedisEventStore({
      url: `redis://127.0.0.1:${port}`,
      commandTimeoutMs: 300,
      onError: () => {},
    })
    open.push(s)
    const ch = createChannel({ name: 'mute', store: s })
    const started = performance.now()
    await expect(ch.publish('x')).rejects.toMatchObject({ code: 'ERR_SSE_STORE_UNAVAILABLE' })
    await expect(ch.exists()).rejects.toMatchObject({ code: 'ERR_SSE_STORE_UNAVAILABLE' })
    expect(performance.now() - started).toBeLessThan(2000)
  })
})
