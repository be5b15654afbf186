import { EventSource } from 'eventsource'
import { afterEach, describe, expect, it } from 'vitest'
import { SseError } from './errors.js'
import type { StreamOptions } from './options.js'
import type { EventStream } from './stream.js'
import {
  Cleanup,
  deferred,
  fetchSse,
  h2Request,
  RawClient,
  rawGet,
  splitResponse,
  startH2cServer,
  startServer,
  waitFor,
} from './test-utils/index.js'
import { createEventStream, type NodeRequest, type NodeResponse } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

type Handler = (stream: EventStream, req: NodeRequest, res: NodeResponse) => void | Promise<void>

/** A node:http server on port 0 that opens a stream with `options` and runs `handler`. */
async function serve(options: StreamOptions<NodeRequest>, handler: Handler = () => {}) {
  const streams: EventStream[] = []
  const server = await startServer((req, res) => {
    const stream = createEventStream(req, res, options)
    streams.push(stream)
    void handler(stream, req, res)
  })
  cleanup.add(server, (s) => s.close())
  return { server, streams }
}

function eventSource(
  url: string,
  init?: ConstructorParameters<typeof EventSource>[1],
): EventSource {
  return cleanup.add(new EventSource(url, init), (es) => es.close())
}

function raw(port: number, request: string): Promise<RawClient> {
  return RawClient.send(port, request).then((client) => cleanup.add(client, (c) => c.destroy()))
}

/** The header lines of a raw response head, lower-cased names, without the Date line. */
function headerLines(head: string): string[] {
  return head
    .split('\r\n')
    .slice(1)
    .map((line) => {
      const colon = line.indexOf(':')
      return `${line.slice(0, colon).toLowerCase()}:${line.slice(colon + 1)}`
    })
    .filter((line) => !line.startsWith('date:'))
    .sort()
}

describe('Node transport over HTTP/1.1', () => {
  it('answers 200 with exactly the SSE headers and Connection: keep-alive', async () => {
    const { server } = await serve({ heartbeat: false })
    const client = await raw(server.port, rawGet('/'))
    const bytes = await client.waitForBytes((b) => b.includes('\r\n\r\n'))
    const { head } = splitResponse(bytes)
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
    expect(headerLines(head)).toEqual([
      'cache-control: no-cache, no-transform',
      'connection: keep-alive',
      'content-type: text/event-stream; charset=utf-8',
      'transfer-encoding: chunked',
      'x-accel-buffering: no',
    ])
  })

  it('sends the status and headers before the first event', async () => {
    const first = deferred()
    const { server, streams } = await serve({ heartbeat: false }, async (stream) => {
      await first.promise
      await stream.send('first')
    })
    const { response, reader } = await cleanup.add(await fetchSse(server.url()), (f) => f.abort())
    // fetch resolved: headers arrived, while the handler still waits to send anything.
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(streams).toHaveLength(1)
    expect(reader.bytes).toBe(0)
    first.resolve()
    await reader.waitForEvents(1)
    expect(reader.text).toBe('data: first\n\n')
  })

  it('writes exact frames on the wire', async () => {
    const { server } = await serve({ heartbeat: false }, async (stream) => {
      await stream.send('plain')
      await stream.send({ event: 'tick', id: '1', data: { n: 1 } })
      await stream.send('two\r\nlines')
      await stream.comment('note')
      await stream.send({ data: '', id: '' })
      stream.close()
    })
    const { reader } = await fetchSse(server.url())
    expect(await reader.readToEnd()).toBe(
      'data: plain\n\nevent: tick\nid: 1\ndata: {"n":1}\n\ndata: two\ndata: lines\n\n: note\n\nid: \ndata: \n\n',
    )
  })

  it('delivers named events, data and ids to an EventSource client', async () => {
    const { server } = await serve({ heartbeat: false }, async (stream) => {
      await stream.send({ id: '1', data: 'hello' })
      await stream.send({ event: 'tick', id: '2', data: { n: 2 } })
    })
    const es = eventSource(server.url())
    const got: { type: string; data: string; lastEventId: string }[] = []
    es.addEventListener('message', (e) =>
      got.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }),
    )
    es.addEventListener('tick', (e) =>
      got.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }),
    )
    await waitFor(() => got.length >= 2)
    expect(got).toEqual([
      { type: 'message', data: 'hello', lastEventId: '1' },
      { type: 'tick', data: '{"n":2}', lastEventId: '2' },
    ])
  })

  it('sends retry: N first when the retry option is a number', async () => {
    const { server } = await serve({ heartbeat: false, retry: 1500 }, async (stream) => {
      await stream.send('x')
      stream.close()
    })
    const { reader } = await fetchSse(server.url())
    expect(await reader.readToEnd()).toBe('retry: 1500\n\ndata: x\n\n')
  })

  it('picks each client a retry within { ms, jitter }', async () => {
    const { server } = await serve(
      { heartbeat: false, retry: { ms: 1000, jitter: 500 } },
      (stream) => stream.close(),
    )
    const retries: number[] = []
    for (let i = 0; i < 20; i++) {
      const { reader } = await fetchSse(server.url())
      const text = await reader.readToEnd()
      expect(text).toMatch(/^retry: \d+\n\n$/)
      retries.push(reader.retries[0]!)
    }
    for (const ms of retries) {
      expect(ms).toBeGreaterThanOrEqual(1000)
      expect(ms).toBeLessThanOrEqual(1500)
    }
    expect(new Set(retries).size).toBeGreaterThan(1)
  })

  it('sends exactly `padding` bytes of comment before anything else', async () => {
    const { server } = await serve(
      { heartbeat: false, padding: 2048, retry: 10 },
      async (stream) => {
        await stream.send('after')
        stream.close()
      },
    )
    const { reader } = await fetchSse(server.url())
    const text = await reader.readToEnd()
    expect(text).toBe(`:${' '.repeat(2045)}\n\nretry: 10\n\ndata: after\n\n`)
    expect(Buffer.byteLength(text.slice(0, text.indexOf('retry')))).toBe(2048)
    expect(reader.events).toEqual([{ data: 'after' }])
  })

  it('adds the headers option, keeps every Set-Cookie, and cannot replace Content-Type', async () => {
    const { server } = await serve({
      heartbeat: false,
      headers: {
        'Access-Control-Allow-Origin': '*',
        'Set-Cookie': ['a=1; Path=/', 'b=2; Path=/'],
        'Content-Type': 'text/plain',
        'Cache-Control': 'no-cache, no-transform, private',
      },
    })
    const { response } = await cleanup.add(await fetchSse(server.url()), (f) => f.abort())
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform, private')
  })

  it('reads Last-Event-ID from the lastEventIdQuery parameter when the header is absent', async () => {
    const { server, streams } = await serve(
      { heartbeat: false, lastEventIdQuery: 'lastEventId' },
      (s) => s.close(),
    )
    await (await fetchSse(server.url('/?lastEventId=q-7&x=1'))).reader.readToEnd()
    await (
      await fetchSse(server.url('/?lastEventId=q-7'), { headers: { 'last-event-id': 'h-9' } })
    ).reader.readToEnd()
    await (await fetchSse(server.url('/?other=1'))).reader.readToEnd()
    await (await fetchSse(server.url('/?lastEventId=a%20b%2Fc'))).reader.readToEnd()
    expect(streams.map((s) => s.lastEventId)).toEqual(['q-7', 'h-9', undefined, 'a b/c'])
  })

  it('ignores the query parameter without lastEventIdQuery', async () => {
    const { server, streams } = await serve({ heartbeat: false }, (s) => s.close())
    await (await fetchSse(server.url('/?lastEventId=q-7'))).reader.readToEnd()
    await (
      await fetchSse(server.url('/'), { headers: { 'last-event-id': 'h-9' } })
    ).reader.readToEnd()
    expect(streams.map((s) => s.lastEventId)).toEqual([undefined, 'h-9'])
  })

  it('refuses to open on a response that has already started', async () => {
    let error: unknown
    const server = await startServer((req, res) => {
      res.writeHead(200)
      res.write('started')
      try {
        createEventStream(req, res)
      } catch (e) {
        error = e
      }
      res.end()
    })
    cleanup.add(server, (s) => s.close())
    await (await fetch(server.url())).text()
    expect(error).toBeInstanceOf(SseError)
    expect((error as SseError).code).toBe('ERR_SSE_HEADERS_SENT')
  })

  it('throws a TypeError for invalid options before touching the response', async () => {
    let error: unknown
    let headersSent: boolean | undefined
    const server = await startServer((req, res) => {
      try {
        createEventStream(req, res, { heartbeat: -5 })
      } catch (e) {
        error = e
      }
      headersSent = res.headersSent
      res.end('no stream')
    })
    cleanup.add(server, (s) => s.close())
    expect(await (await fetch(server.url())).text()).toBe('no stream')
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toMatch(/option "heartbeat"/)
    expect(headersSent).toBe(false)
  })
})

describe('Node transport over HTTP/2 (h2c)', () => {
  async function serveH2(options: StreamOptions<NodeRequest>, handler: Handler = () => {}) {
    const server = await startH2cServer((req, res) => {
      const stream = createEventStream(req, res, options)
      void handler(stream, req, res)
    })
    cleanup.add(server, (s) => s.close())
    return server
  }

  it('omits Connection on HTTP/2', async () => {
    const server = await serveH2({ heartbeat: false })
    const res = cleanup.add(await h2Request(server.url()), (r) => r.close())
    const { date: _date, ...headers } = res.headers
    // Object.entries leaves out node's Symbol(sensitiveHeaders).
    expect(Object.fromEntries(Object.entries(headers))).toEqual({
      ':status': 200,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    })
  })

  it('drops connection-specific headers given in the headers option on HTTP/2', async () => {
    const server = await serveH2({
      heartbeat: false,
      headers: { Connection: 'keep-alive', 'Keep-Alive': 'timeout=5', 'x-extra': '1' },
    })
    const res = cleanup.add(await h2Request(server.url()), (r) => r.close())
    expect(res.headers[':status']).toBe(200)
    expect(res.headers.connection).toBe(undefined)
    expect(res.headers['keep-alive']).toBe(undefined)
    expect(res.headers['x-extra']).toBe('1')
  })

  it('writes exact frames over HTTP/2', async () => {
    const server = await serveH2({ heartbeat: false, retry: 20 }, async (stream) => {
      await stream.send({ event: 'e', id: '1', data: 'a\nb' })
      stream.close()
    })
    const res = cleanup.add(await h2Request(server.url()), (r) => r.close())
    await res.ended
    expect(res.text()).toBe('retry: 20\n\nevent: e\nid: 1\ndata: a\ndata: b\n\n')
  })

  it('reads Last-Event-ID over HTTP/2', async () => {
    const seen = deferred<string | undefined>()
    const server = await serveH2({ heartbeat: false }, (stream) => {
      seen.resolve(stream.lastEventId)
      stream.close()
    })
    const res = cleanup.add(await h2Request(server.url(), '/', { 'last-event-id': 'x-5' }), (r) =>
      r.close(),
    )
    await res.ended
    expect(await seen.promise).toBe('x-5')
  })
})
