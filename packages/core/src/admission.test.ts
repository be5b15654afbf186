import { afterEach, describe, expect, it, vi } from 'vitest'
import { getMetrics } from './metrics.js'
import { resolveOptions, type StreamOptions } from './options.js'
import { allStreams, closeAllStreams, StreamGroup } from './registry.js'
import type { EventStream } from './stream.js'
import { Cleanup, deferred, fetchSse, startServer, waitFor } from './test-utils/index.js'
import { createEventStream, type NodeRequest, openNodeStream } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(async () => {
  await cleanup.run()
  // Nothing may leak into the next test's admission count.
  expect(allStreams.size).toBe(0)
})

async function serve(
  options: StreamOptions<NodeRequest>,
  handler: (stream: EventStream) => void | Promise<void> = () => {},
) {
  const streams: EventStream[] = []
  const server = await startServer((req, res) => {
    const stream = createEventStream(req, res, options)
    streams.push(stream)
    void handler(stream)
  })
  cleanup.add(server, (s) => s.close())
  cleanup.add(streams, (all) => {
    for (const s of all) s.close()
  })
  return { server, streams }
}

async function get(url: string) {
  const response = await fetch(url)
  return { status: response.status, headers: response.headers, body: await response.text() }
}

describe('authorize', () => {
  const refusals: [string, () => unknown, number, string][] = [
    ['false', () => false, 403, 'Forbidden'],
    ['401', () => 401, 401, 'Unauthorized'],
    ['403', () => 403, 403, 'Forbidden'],
    ['a promise of false', async () => false, 403, 'Forbidden'],
    ['a promise of 401', async () => 401, 401, 'Unauthorized'],
  ]
  for (const [what, authorize, status, text] of refusals) {
    it(`answers ${status} and opens no stream when authorize returns ${what}`, async () => {
      const before = getMetrics()
      const { server, streams } = await serve(
        { heartbeat: false, authorize: authorize as never },
        (s) => {
          void s.send('secret')
        },
      )
      const res = await get(server.url())
      expect(res.status).toBe(status)
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(res.body).toBe(text)
      expect(streams[0]!.closed).toBe(true)
      expect(getMetrics().streamsOpened).toBe(before.streamsOpened)
      expect(getMetrics().openStreams).toBe(before.openStreams)
      expect(getMetrics().refusedUnauthorized).toBe(before.refusedUnauthorized + 1)
    })
  }

  it('answers 500, opens no stream and reports the error when authorize throws', async () => {
    const before = getMetrics()
    const failure = new Error('auth backend down')
    const onError = vi.fn()
    const { server, streams } = await serve({
      heartbeat: false,
      onError,
      authorize: () => {
        throw failure
      },
    })
    const res = await get(server.url())
    expect(res.status).toBe(500)
    expect(res.body).toBe('Internal Server Error')
    expect(onError).toHaveBeenCalledWith(failure, streams[0])
    expect(getMetrics().streamsOpened).toBe(before.streamsOpened)
    expect(getMetrics().refusedUnauthorized).toBe(before.refusedUnauthorized)
  })

  it('answers 500 when an async authorize rejects, never echoing its message', async () => {
    const onError = vi.fn()
    const { server } = await serve({
      heartbeat: false,
      onError,
      authorize: async () => {
        throw new Error('db password is hunter2')
      },
    })
    const res = await get(server.url())
    expect(res.status).toBe(500)
    expect(res.body).toBe('Internal Server Error')
    expect(onError).toHaveBeenCalledTimes(1)
  })

  it('passes the request to authorize and holds events until it admits', async () => {
    const verdict = deferred<boolean>()
    const seen: string[] = []
    const { server, streams } = await serve(
      {
        heartbeat: false,
        authorize: (req) => {
          seen.push(req.headers.authorization ?? '')
          return verdict.promise
        },
      },
      (s) => void s.send('early'),
    )
    const pending = fetchSse(server.url(), { headers: { authorization: 'Bearer t' } })
    await waitFor(() => streams.length === 1)
    expect(seen).toEqual(['Bearer t'])
    verdict.resolve(true)
    const client = cleanup.add(await pending, (c) => c.abort())
    expect(client.response.status).toBe(200)
    await client.reader.waitForEvents(1)
    expect(client.reader.text).toBe('data: early\n\n')
  })

  it('drops events held for a request that is then refused', async () => {
    const verdict = deferred<boolean>()
    const { server, streams } = await serve(
      { heartbeat: false, authorize: () => verdict.promise },
      (s) => {
        void s.send('must not leak')
      },
    )
    const pending = get(server.url())
    await waitFor(() => streams.length === 1)
    verdict.resolve(false)
    const res = await pending
    expect(res.status).toBe(403)
    expect(res.body).toBe('Forbidden')
  })
})

describe('maxStreams', () => {
  it("answers 200 with exactly one retry: frame within limitRetry and ends, with overLimit 'retry'", async () => {
    const before = getMetrics()
    const { server } = await serve({
      heartbeat: false,
      maxStreams: 1,
      limitRetry: { ms: 100, jitter: 50 },
    })
    const first = cleanup.add(await fetchSse(server.url()), (c) => c.abort())
    expect(first.response.status).toBe(200)
    for (let i = 0; i < 5; i++) {
      const refused = await fetchSse(server.url())
      expect(refused.response.status).toBe(200)
      expect(refused.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      const text = await refused.reader.readToEnd()
      expect(text).toMatch(/^retry: \d+\n\n$/)
      const ms = refused.reader.retries[0]!
      expect(ms).toBeGreaterThanOrEqual(100)
      expect(ms).toBeLessThanOrEqual(150)
    }
    expect(getMetrics().refusedOverLimit).toBe(before.refusedOverLimit + 5)
    expect(getMetrics().openStreams).toBe(before.openStreams + 1)
  })

  it("answers 503 with Retry-After, with overLimit 'reject'", async () => {
    const { server } = await serve({
      heartbeat: false,
      maxStreams: 1,
      overLimit: 'reject',
      limitRetry: { ms: 2000, jitter: 1000 },
    })
    cleanup.add(await fetchSse(server.url()), (c) => c.abort())
    const res = await get(server.url())
    expect(res.status).toBe(503)
    expect(res.body).toBe('Service Unavailable')
    expect(['2', '3']).toContain(res.headers.get('retry-after'))
  })

  it('admits again once an open stream closes', async () => {
    const { server, streams } = await serve({
      heartbeat: false,
      maxStreams: 1,
      overLimit: 'reject',
    })
    const first = await fetchSse(server.url())
    expect((await get(server.url())).status).toBe(503)
    await first.abort()
    await waitFor(() => streams[0]!.closed)
    const again = cleanup.add(await fetchSse(server.url()), (c) => c.abort())
    expect(again.response.status).toBe(200)
  })

  it('refuses everything with maxStreams: 0', async () => {
    const { server } = await serve({
      heartbeat: false,
      maxStreams: 0,
      overLimit: 'reject',
      limitRetry: 1000,
    })
    const res = await get(server.url())
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
  })
})

describe('closeAllStreams', () => {
  async function openThree() {
    const { server, streams } = await serve({ heartbeat: false }, (s) => void s.send('hi'))
    const clients = await Promise.all([1, 2, 3].map(() => fetchSse(server.url())))
    await Promise.all(clients.map((c) => c.reader.waitForEvents(1)))
    return { clients, streams }
  }

  it('ends every open stream after a retry: frame', async () => {
    const before = getMetrics()
    const { clients, streams } = await openThree()
    closeAllStreams({ retry: 500 })
    const bodies = await Promise.all(clients.map((c) => c.reader.readToEnd()))
    expect(bodies).toEqual([
      'data: hi\n\nretry: 500\n\n',
      'data: hi\n\nretry: 500\n\n',
      'data: hi\n\nretry: 500\n\n',
    ])
    expect(streams.every((s) => s.closed)).toBe(true)
    expect(allStreams.size).toBe(0)
    expect(getMetrics().openStreams).toBe(before.openStreams)
  })

  it('picks each retry within { ms, jitter }, 1 to 10 s by default', async () => {
    const a = await openThree()
    closeAllStreams({ retry: { ms: 300, jitter: 200 } })
    for (const c of a.clients) {
      await c.reader.readToEnd()
      expect(c.reader.retries[0]).toBeGreaterThanOrEqual(300)
      expect(c.reader.retries[0]).toBeLessThanOrEqual(500)
    }
    const b = await openThree()
    closeAllStreams()
    for (const c of b.clients) {
      await c.reader.readToEnd()
      expect(c.reader.retries[0]).toBeGreaterThanOrEqual(1000)
      expect(c.reader.retries[0]).toBeLessThanOrEqual(10_000)
    }
  })

  it('throws a TypeError naming retry for a bad value', () => {
    expect(() => closeAllStreams({ retry: -1 })).toThrow(TypeError)
    expect(() => closeAllStreams({ retry: -1 })).toThrow(/option "retry"/)
  })

  it('closes only the streams of one group with StreamGroup.close', async () => {
    const group = new StreamGroup()
    const options = resolveOptions({ heartbeat: false })
    const inGroup: EventStream[] = []
    const server = await startServer((req, res) => {
      const grouped = req.url === '/grouped'
      const stream = openNodeStream(req, res, {
        options,
        context: req,
        group: grouped ? group : undefined,
      })
      if (grouped) inGroup.push(stream)
      cleanup.add(stream, (s) => s.close())
    })
    cleanup.add(server, (s) => s.close())
    const grouped = await fetchSse(server.url('/grouped'))
    const other = cleanup.add(await fetchSse(server.url('/other')), (c) => c.abort())
    expect(group.size).toBe(1)
    group.close({ retry: 100 })
    expect(await grouped.reader.readToEnd()).toBe('retry: 100\n\n')
    expect(group.size).toBe(0)
    expect(allStreams.size).toBe(1)
    expect(other.reader.done).toBe(false)
  })
})
