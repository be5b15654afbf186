/**
 * Several instances, one set of channels: real redis-servers, real child processes on
 * different frameworks (Express, Fastify, Hono, each through its ssekit adapter), real HTTP
 * event-stream clients. Timings are printed as `[measure]` lines and never asserted, except
 * the bounds the contract names (a dead producer's log ends within 15 s, a cancel reaches
 * its producer within 1 s).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { type AdapterName, Instance, openSse, type SseClient } from './test-utils/instances.js'
import { RedisServer } from './test-utils/redis-server.js'

const PREFIX = `mi${process.pid}:`

/** The gap-free place of an entry in its log: the last part of `<epoch>-<ms>-<seq>`. */
const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))

/** Breaks in a run of seqs (`from` expected first) and ids seen more than once. */
function faults(ids: readonly string[], from = 1): { gaps: number; duplicates: number } {
  let gaps = 0
  let expected = from
  for (const id of ids) {
    if (seqOf(id) !== expected) gaps++
    expected = seqOf(id) + 1
  }
  return { gaps, duplicates: ids.length - new Set(ids).size }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`
const int = (n: number) => Math.round(n).toLocaleString('en-US')

let redis: RedisServer
/** Express, Fastify, Hono: the three instances most tests use. */
let a: Instance
let b: Instance
let c: Instance
/** The instance that is killed. */
let victim: Instance
const clients: SseClient[] = []

async function open(url: string, lastEventId?: string): Promise<SseClient> {
  const client = await openSse(url, lastEventId)
  clients.push(client)
  expect(client.response.status).toBe(200)
  return client
}

beforeAll(async () => {
  redis = await RedisServer.start()
  const start = (adapter: AdapterName) => Instance.start(adapter, redis.url, PREFIX)
  ;[a, b, c, victim] = await Promise.all([
    start('express'),
    start('fastify'),
    start('hono'),
    start('express'),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.abort()))
  await Promise.allSettled([a, b, c, victim].map((instance) => instance?.stop()))
  await redis?.close()
  // What the instances reported (their stores' onError), to read when a test failed.
  for (const instance of [a, b, c]) {
    if (instance?.stderr)
      console.log(`[${instance.adapter} stderr] ${instance.stderr.slice(0, 2000)}`)
  }
})

describe('instances on one Redis are one set of channels', () => {
  test('concurrent publishes from 3 instances on 100 channels reach every client of every instance in one order per channel, the order a replay from the start gives: 0 gaps, 0 duplicates', async () => {
    const names = Array.from({ length: 100 }, (_, i) => `order-${i}`)
    const count = 40
    const total = 3 * names.length * count
    const instances = [a, b, c]
    const watchers = await Promise.all(
      instances.map((instance) => open(instance.url(`/many?names=${names.join(',')}`))),
    )
    await Promise.all(
      watchers.map((w) => waitFor(() => w.reader.comments.includes('ready'), 10_000, 'ready')),
    )

    const started = performance.now()
    const bursts = await Promise.all(
      instances.map((instance) =>
        instance.post<{ ids: [string, string][] }>('/burst', {
          names,
          count,
          from: instance.adapter,
        }),
      ),
    )
    const acked = performance.now()
    await Promise.all(watchers.map((w) => w.reader.waitForEvents(total, 30_000)))
    const delivered = performance.now()
    console.log(
      `[measure] throughput, 3 instances publishing at once through one Redis: ${int(total)} events on ${names.length} channels appended in ${ms(acked - started)} (${int((total * 1000) / (acked - started))} events/s), all delivered to one client per instance in ${ms(delivered - started)} (${int((total * 1000) / (delivered - started))} events/s, ${int((3 * total * 1000) / (delivered - started))} deliveries/s)`,
    )

    // The log itself: end every channel (through any instance), then read each one whole
    // from the start on another instance (an ended log is replayed whole, then closes).
    await Promise.all(watchers.map((w) => w.abort()))
    await Promise.all(names.map((name, i) => instances[i % 3]!.post(`/ch/${name}/end`)))
    const replays = await Promise.all(
      names.map(async (name, i) => {
        const replay = await open(instances[(i + 1) % 3]!.url(`/ch/${name}`))
        await replay.reader.readToEnd(10_000)
        return replay.reader.ids
      }),
    )

    const published = new Map<string, string[]>(names.map((name) => [name, []]))
    for (const { ids } of bursts) for (const [name, id] of ids) published.get(name)!.push(id)
    let gaps = 0
    let duplicates = 0
    let reordered = 0
    let missing = 0
    for (const [i, name] of names.entries()) {
      const log = replays[i]!
      const f = faults(log)
      gaps += f.gaps
      duplicates += f.duplicates
      // The log holds exactly what the publishes were told.
      missing += published.get(name)!.filter((id) => !log.includes(id)).length
      expect(log).toHaveLength(3 * count)
      for (const w of watchers) {
        const seen = w.reader.events
          .filter((e) => (JSON.parse(e.data) as { ch: string }).ch === name)
          .map((e) => e.id!)
        const g = faults(seen)
        gaps += g.gaps
        duplicates += g.duplicates
        if (JSON.stringify(seen) !== JSON.stringify(log)) reordered++
      }
    }
    expect({ gaps, duplicates, reordered, missing }).toEqual({
      gaps: 0,
      duplicates: 0,
      reordered: 0,
      missing: 0,
    })
    for (const w of watchers) expect(w.reader.events).toHaveLength(total)

    // Whoever has all of an ended log is answered 204, on any instance.
    for (const instance of instances) {
      const response = await fetch(instance.url(`/ch/${names[0]}`), {
        headers: { 'last-event-id': replays[0]!.at(-1)! },
      })
      expect(response.status).toBe(204)
    }
  })

  test('a client that leaves instance A after event k and resumes on instance B after 1,000 more, while 1,000 events/s keep coming, gets the missed events then the live ones, each once, in order', async () => {
    const name = 'resume'
    const watcher = await open(c.url(`/ch/${name}`))
    const leaver = await open(a.url(`/ch/${name}`))
    await c.post(`/pump/${name}`, { perSec: 1000 })

    await leaver.reader.waitForEvents(100)
    await leaver.abort()
    const before = leaver.reader.ids
    const k = before.length
    const lastId = before.at(-1)!
    await waitFor(() => watcher.reader.events.length >= k + 1000, 10_000, '1,000 more events')

    const resumed = await open(b.url(`/ch/${name}`), lastId)
    const missed = watcher.reader.events.length - k
    // The missed ones (1,000 and more), then live ones.
    await resumed.reader.waitForEvents(missed + 300, 10_000)
    const stats = await c.post<{ published: number; failed: number }>(`/pump/${name}/stop`)
    expect(stats.failed).toBe(0)
    await watcher.reader.waitForEvents(stats.published, 10_000)
    await resumed.reader.waitForEvents(stats.published - k, 10_000)

    expect(missed).toBeGreaterThanOrEqual(1000)
    expect(faults(resumed.reader.ids, seqOf(lastId) + 1)).toEqual({ gaps: 0, duplicates: 0 })
    expect([...before, ...resumed.reader.ids]).toEqual(watcher.reader.ids)
    const ks = resumed.reader.events.map((e) => (JSON.parse(e.data) as { k: number }).k)
    expect(ks).toEqual(Array.from({ length: stats.published - k }, (_, i) => k + 1 + i))
  })

  test('a client that joins a channel on an instance just as the last client there leaves still gets what other instances publish', async () => {
    // Each round: the only client of a channel on instance A leaves while another opens the
    // same channel on A, then B publishes; C's client shows the event was delivered.
    let rounds = 0
    let lost = 0
    for (let i = 0; i < 100 && lost < 3; i++) {
      rounds++
      const name = `rejoin-${i}`
      const watcher = await open(c.url(`/ch/${name}`))
      const leaving = await open(a.url(`/ch/${name}`))
      const [, joining] = await Promise.all([leaving.abort(), open(a.url(`/ch/${name}`))])
      const { id } = await b.post<{ id: string }>(`/ch/${name}`, { i })
      await watcher.reader.waitForEvents(1)
      const got = await joining.reader.waitForEvents(1, 1000).then(
        (events) => events[0]!.id === id,
        () => false,
      )
      if (!got) lost++
      await Promise.all([watcher.abort(), joining.abort()])
    }
    expect(lost, `events lost in ${rounds} rounds`).toBe(0)
  })

  test('after kill -9 of an instance its clients resume on another instance with their Last-Event-ID and lose nothing, and a channel whose lease holder ran there ends with an error event everywhere within 15 s', async () => {
    const feed = 'kill-feed'
    const job = 'kill-job'
    const feedWatcher = await open(a.url(`/ch/${feed}`))
    const feedClient = await open(victim.url(`/ch/${feed}`))
    const jobWatcher = await open(b.url(`/ch/${job}`))
    const jobClient = await open(victim.url(`/ch/${job}`))
    await a.post(`/pump/${feed}`, { perSec: 500 })
    // The producer runs on the victim: it holds the lease and ticks every 50 ms.
    await victim.post(`/job/${job}/start`, { ttlMs: 1000 })
    await feedClient.reader.waitForEvents(50)
    await jobClient.reader.waitForEvents(5)

    const killed = performance.now()
    await victim.kill('SIGKILL')
    await waitFor(() => feedClient.reader.done && jobClient.reader.done, 5000, 'streams cut')

    // Each client comes back, to another instance, with the last id it got.
    const feedResumed = await open(b.url(`/ch/${feed}`), feedClient.reader.ids.at(-1))
    const jobResumed = await open(c.url(`/ch/${job}`), jobClient.reader.ids.at(-1))

    await jobWatcher.reader.readToEnd(15_000)
    const ended = performance.now() - killed
    console.log(
      `[measure] producer killed (kill -9, lease ttl 1000 ms): its log ended with an error event at a subscriber of another instance ${ms(ended)} after the kill`,
    )
    expect(ended).toBeLessThan(15_000)
    const last = jobWatcher.reader.events.at(-1)!
    expect({ event: last.event, data: last.data }).toEqual({
      event: 'error',
      data: '{"reason":"producer-lost"}',
    })
    expect(
      jobWatcher.reader.text.endsWith(
        `event: error\nid: ${last.id}\ndata: {"reason":"producer-lost"}\n\n`,
      ),
    ).toBe(true)
    expect(faults(jobWatcher.reader.ids)).toEqual({ gaps: 0, duplicates: 0 })
    // The victim's own client got the rest, the error included, then the end, elsewhere.
    await jobResumed.reader.readToEnd(5000)
    expect([...jobClient.reader.ids, ...jobResumed.reader.ids]).toEqual(jobWatcher.reader.ids)

    await feedResumed.reader.waitForEvents(50, 5000)
    const stats = await a.post<{ published: number; failed: number }>(`/pump/${feed}/stop`)
    expect(stats.failed).toBe(0)
    await feedWatcher.reader.waitForEvents(stats.published, 10_000)
    await feedResumed.reader.waitForEvents(stats.published - feedClient.reader.events.length)
    expect([...feedClient.reader.ids, ...feedResumed.reader.ids]).toEqual(feedWatcher.reader.ids)
    expect(faults(feedWatcher.reader.ids)).toEqual({ gaps: 0, duplicates: 0 })
    expect(feedWatcher.reader.events).toHaveLength(stats.published)
  })

  test('a cancel sent to one instance stops the producer running on another within 1 s', async () => {
    const name = 'cancel-job'
    const watcher = await open(c.url(`/ch/${name}`))
    await a.post(`/job/${name}/start`, { ttlMs: 5000 })
    await watcher.reader.waitForEvents(3)

    const sent = performance.now()
    await b.post(`/job/${name}/cancel`)
    await watcher.reader.readToEnd(5000)
    const stopped = watcher.reader.events.at(-1)!
    const took = watcher.reader.times.at(-1)! - (performance.timeOrigin + sent)
    console.log(
      `[measure] cancel sent to one instance → its producer on another stopped and its last event delivered: ${ms(took)}`,
    )
    expect(stopped.event).toBe('stopped')
    expect(took).toBeLessThan(1000)
    const ticks = watcher.reader.events.slice(0, -1)
    const { ticks: n } = JSON.parse(stopped.data) as { ticks: number }
    expect(ticks.map((e) => [e.event, JSON.parse(e.data)])).toEqual(
      Array.from({ length: n }, (_, i) => ['tick', { n: i + 1 }]),
    )
  })

  test('5,000 events/s published on one instance reach a client of another once each, in order (latency printed)', async () => {
    const name = 'latency'
    const client = await open(b.url(`/ch/${name}`))
    await a.post(`/pump/${name}`, { perSec: 5000 })
    await client.reader.waitForEvents(10_000, 10_000)
    const stats = await a.post<{ published: number; failed: number }>(`/pump/${name}/stop`)
    await client.reader.waitForEvents(stats.published, 10_000)
    const { events, times } = client.reader
    const latency = events.map((e, i) => times[i]! - (JSON.parse(e.data) as { t: number }).t)
    const span = (times.at(-1)! - times[0]!) / 1000
    // The first half second includes the instances' warm-up (JIT, first script loads).
    const warm = events.findIndex((_, i) => times[i]! - times[0]! > 500)
    const summary = (values: number[]) => {
      const sorted = [...values].sort((x, y) => x - y)
      return `p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1)!)}`
    }
    console.log(
      `[measure] publish→delivery across instances (publisher on express, client on fastify) at ${int(events.length / span)} events/s over ${int(events.length)} events: ${summary(latency)}; after the first 0.5 s: ${summary(latency.slice(warm))}`,
    )
    expect(stats.failed).toBe(0)
    expect(faults(client.reader.ids)).toEqual({ gaps: 0, duplicates: 0 })
    expect(events.map((e) => (JSON.parse(e.data) as { k: number }).k)).toEqual(
      Array.from({ length: stats.published }, (_, i) => i + 1),
    )
  })
})

describe('a Redis restart', () => {
  let durable: RedisServer
  let p: Instance
  let q: Instance

  beforeAll(async () => {
    durable = await RedisServer.start({ appendOnly: true })
    ;[p, q] = await Promise.all([
      Instance.start('fastify', durable.url, PREFIX),
      Instance.start('hono', durable.url, PREFIX),
    ])
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([p?.stop(), q?.stop()])
    await durable?.close()
  })

  test('delivery resumes from the exact id where it stopped, once Redis is back with its append-only file (time to the first event printed)', async () => {
    const name = 'restart'
    const client = await open(q.url(`/ch/${name}`))
    await p.post(`/pump/${name}`, { perSec: 200 })
    await client.reader.waitForEvents(50)

    await durable.stop()
    const before = client.reader.events.length
    await durable.restart()
    const back = performance.timeOrigin + performance.now()
    await waitFor(
      () => client.reader.times.some((t) => t > back),
      15_000,
      'an event after the restart',
    )
    const first = client.reader.times.find((t) => t > back)!
    console.log(
      `[measure] Redis restart (stop, start with its append-only file): first event delivered ${ms(first - back)} after Redis accepted connections again`,
    )

    await client.reader.waitForEvents(before + 100, 10_000)
    const stats = await p.post<{ published: number; failed: number; acked: number[] }>(
      `/pump/${name}/stop`,
    )
    await waitFor(
      () => {
        const ks = new Set(client.reader.events.map((e) => (JSON.parse(e.data) as { k: number }).k))
        return stats.acked.every((k) => ks.has(k))
      },
      10_000,
      'every acknowledged publish delivered',
    )
    // Publishes refused while Redis was away are never delivered twice; some may be missing.
    expect(faults(client.reader.ids)).toEqual({ gaps: 0, duplicates: 0 })
    const ks = client.reader.events.map((e) => (JSON.parse(e.data) as { k: number }).k)
    expect(ks).toEqual([...ks].sort((x, y) => x - y))
    expect(new Set(ks).size).toBe(ks.length)
  })
})
