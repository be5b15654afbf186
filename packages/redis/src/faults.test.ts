/**
 * Redis going away: never a crash, never a hung caller. Open streams stay open (heartbeats go
 * on), a publish rejects within 5 s with an SseError that says what failed, and once Redis
 * is back delivery resumes at the exact entry where it stopped: nothing that reached the log
 * is lost or doubled. A connection that dies without an error is noticed and replaced.
 */
import { createClient } from '@redis/client'
import { createChannel, type Gap, SseError } from '@ssekit/core'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryStream, waitFor } from '../../core/src/test-utils/index.js'
import { RedisEventStore } from './index.js'
import { FreezingProxy, RedisServer } from './test-utils/redis-server.js'

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close()
})

/** `data: N` frames in a transport's text, as numbers, in order. */
function numbers(text: string): number[] {
  return [...text.matchAll(/^data: (\d+)$/gm)].map((m) => Number(m[1]))
}

describe('RedisEventStore when Redis goes away', () => {
  it('keeps streams open, rejects publishes within 5 s, and resumes exactly after a restart with AOF', async () => {
    const server = await RedisServer.start({ appendOnly: true })
    open.push(server)
    const errors: unknown[] = []
    const options = { url: server.url, prefix: 'f1:', onError: (e: unknown) => errors.push(e) }
    const publisher = new RedisEventStore(options)
    const reader = new RedisEventStore(options)
    open.push(publisher, reader)
    const out = createChannel({ name: 'feed', store: publisher })
    const sub = memoryStream({ heartbeat: 200 })
    open.push(sub.stream)
    await createChannel({ name: 'feed', store: reader }).subscribe(sub.stream)

    const acknowledged: number[] = []
    for (let i = 1; i <= 50; i++) {
      await out.publish(String(i))
      acknowledged.push(i)
    }
    await waitFor(() => numbers(sub.transport.text).length === 50, 5000, 'the first 50')

    await server.stop()
    const cpu = process.cpuUsage()
    const wall = performance.now()
    const started = performance.now()
    const failure = await out.publish('51').catch((e: unknown) => e)
    expect(performance.now() - started).toBeLessThan(5000)
    expect(failure).toBeInstanceOf(SseError)
    expect((failure as SseError).code).toBe('ERR_SSE_STORE_UNAVAILABLE')
    expect((failure as SseError).message).toMatch(/^@ssekit\/redis: publish to "feed" failed: /)
    // The stream stays open through the outage; its heartbeat goes on.
    const beats = sub.transport.text.length
    await waitFor(() => sub.transport.text.length > beats + 6, 3000, 'heartbeats during the outage')
    expect(sub.stream.closed).toBe(false)
    // Reconnecting costs little: a jittered backoff, not a busy loop.
    await new Promise((resolve) => setTimeout(resolve, 4000))
    const used = process.cpuUsage(cpu)
    const share = (used.user + used.system) / 1000 / (performance.now() - wall)
    expect(share).toBeLessThan(0.25)

    await server.restart()
    const back = performance.now()
    // Publish again until Redis takes it; every acknowledged one must arrive once.
    let next = 51
    await waitFor(
      async () => {
        try {
          await out.publish(String(next))
          acknowledged.push(next++)
          return true
        } catch {
          return false
        }
      },
      15_000,
      'a publish after the restart',
    )
    for (; next <= 60; next++) {
      await out.publish(String(next))
      acknowledged.push(next)
    }
    await waitFor(() => numbers(sub.transport.text).length === acknowledged.length, 10_000, 'all')
    console.log(
      `[measure] Redis restart to first delivered event: ${Math.round(performance.now() - back)} ms`,
    )
    expect(numbers(sub.transport.text)).toEqual(acknowledged)
    expect(errors.length).toBeGreaterThan(0)
    for (const e of errors) expect(e).toBeInstanceOf(Error)
  })

  it('reports a gap to a resuming client when Redis came back empty', async () => {
    const server = await RedisServer.start()
    open.push(server)
    const store = new RedisEventStore({ url: server.url, prefix: 'f2:', onError: () => {} })
    open.push(store)
    const ch = createChannel({ name: 'lost', store })
    const id = (await ch.publish('before'))!
    await server.restart({ empty: true })
    const admin = createClient({ url: server.url })
    await admin.connect()
    admin.destroy()
    // The store's own connections come back on their own.
    await waitFor(
      async () => (await store.info('lost').catch(() => undefined)) !== undefined,
      10_000,
    )
    const gaps: Gap[] = []
    const resumed = memoryStream({ heartbeat: false }, { lastEventId: id })
    open.push(resumed.stream)
    await ch.subscribe(resumed.stream, { onGap: (gap) => void gaps.push(gap) })
    expect(gaps).toEqual([{ reason: 'unknown', lastEventId: id }])
    expect(resumed.transport.text).toBe('')
    // New events carry a new epoch: they are delivered, never confused with the old ones.
    const fresh = (await ch.publish('after'))!
    await waitFor(() => resumed.transport.text.includes('after'))
    expect(fresh.split('-')[0]).not.toBe(id.split('-')[0])
    expect(resumed.transport.text).toBe(`id: ${fresh}\ndata: after\n\n`)
  })

  it('refills what a subscriber connection missed while it was cut off, each event once', async () => {
    const server = await RedisServer.start()
    open.push(server)
    const admin = createClient({ url: server.url })
    await admin.connect()
    open.push({ close: () => admin.destroy() })
    const publisher = new RedisEventStore({ url: server.url, prefix: 'f3:' })
    const reader = new RedisEventStore({ url: server.url, prefix: 'f3:', onError: () => {} })
    open.push(publisher, reader)
    const out = createChannel({ name: 'busy', store: publisher })
    const sub = memoryStream({ heartbeat: false })
    open.push(sub.stream)
    await createChannel({ name: 'busy', store: reader }).subscribe(sub.stream)
    const sent: number[] = []
    let killed = false
    for (let i = 1; i <= 400; i++) {
      await out.publish(String(i))
      sent.push(i)
      if (i === 100) {
        // Drop every pub/sub connection: messages published meanwhile are never heard.
        await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
        killed = true
      }
    }
    expect(killed).toBe(true)
    await waitFor(() => numbers(sub.transport.text).length >= 400, 10_000, 'every event')
    expect(numbers(sub.transport.text)).toEqual(sent)
  })

  it('notices a half-dead connection (no error, no data) and replaces it', async () => {
    const server = await RedisServer.start()
    open.push(server)
    const proxy = new FreezingProxy(server.port)
    const url = await proxy.listen()
    open.push(proxy)
    const errors: unknown[] = []
    const store = new RedisEventStore({
      url,
      prefix: 'f4:',
      healthCheckMs: 500,
      commandTimeoutMs: 500,
      onError: (e) => errors.push(e),
    })
    open.push(store)
    const ch = createChannel({ name: 'quiet', store })
    const sub = memoryStream({ heartbeat: false })
    open.push(sub.stream)
    await ch.subscribe(sub.stream)
    await ch.publish('1')
    await waitFor(() => sub.transport.text.includes('data: 1'))
    expect(proxy.connections).toBe(2)
    proxy.frozen = true
    const frozenAt = performance.now()
    await waitFor(
      () => errors.some((e) => String((e as Error).message).includes('stopped answering')),
      10_000,
      'the dead connection noticed',
    )
    console.log(
      `[measure] half-dead connection noticed after ${Math.round(performance.now() - frozenAt)} ms (healthCheckMs 500)`,
    )
    // The replacements go through the proxy too, which forwards again now.
    proxy.frozen = false
    await waitFor(
      async () => {
        try {
          await ch.publish('2')
          return true
        } catch {
          return false
        }
      },
      10_000,
      'a publish on the new connection',
    )
    await waitFor(
      () => sub.transport.text.includes('data: 2'),
      10_000,
      'delivery after the replace',
    )
    expect(numbers(sub.transport.text)).toEqual([1, 2])
  })
})
