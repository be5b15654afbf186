/**
 * Hono-specific behaviour on @hono/node-server, for both transports: the Node one (Hono's
 * Node bindings present, the fast path) and the Web one (a `Response` body, as on Bun,
 * Deno and Workers). `app.use(sse())` + `c.sse()`, `c.var.sse` with `SseEnv`, `sseRoute()`,
 * headers set with `c.header()`, and client disconnects.
 */
import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { type EventStream, getMetrics, SseTypeError } from '../../core/src/index.js'
import { deferred, fetchSse, type SseFetch, waitFor } from '../../core/src/test-utils/index.js'
import { type SseEnv, sse, sseRoute } from './index.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

type Transport = 'node' | 'web'

/** Serves `app` on a free port; `web` hides the Node bindings so that the Web path runs. */
async function listen(app: { fetch: Hono['fetch'] }, transport: Transport): Promise<string> {
  const fetch = transport === 'node' ? app.fetch : (request: Request) => app.fetch(request)
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections(): void }).closeAllConnections()
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function stream(url: string, init?: RequestInit): Promise<SseFetch> {
  const result = await fetchSse(url, init)
  cleanups.push(() => result.abort())
  return result
}

describe.each(['node', 'web'] as const)('%s transport', (transport) => {
  // With no padding or retry, the Web transport opens the body with a comment (a runtime
  // such as Bun sends the headers with the first body bytes only); Node flushes headers.
  const preamble = transport === 'web' ? ':\n\n' : ''

  it('opens a stream with c.sse(handler) after app.use(sse())', async () => {
    const app = new Hono()
    app.use(sse({ heartbeat: false }))
    app.get('/events', (c) =>
      c.sse(async (stream) => {
        await stream.send({ event: 'hello', data: { path: c.req.path } })
        stream.close()
      }),
    )
    const url = await listen(app, transport)
    const { response, reader } = await stream(`${url}/events`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await reader.readToEnd()).toBe(`${preamble}event: hello\ndata: {"path":"/events"}\n\n`)
  })

  it('types and runs c.var.sse in a Hono<SseEnv> app, with per-call options', async () => {
    const app = new Hono<SseEnv>()
    app.use('/events/*', sse({ heartbeat: false, retry: 1000 }))
    app.get('/events/feed', (c) =>
      c.var.sse(
        async (stream) => {
          await stream.send('via c.var')
          stream.close()
        },
        { retry: 2000 },
      ),
    )
    const url = await listen(app, transport)
    const { reader } = await stream(`${url}/events/feed`)
    expect(await reader.readToEnd()).toBe('retry: 2000\n\ndata: via c.var\n\n')
  })

  it('answers with sseRoute(handler, options) without the middleware', async () => {
    const app = new Hono()
    const route = sseRoute(
      async (stream, c) => {
        await stream.send({ id: '1', data: c.req.query('q') ?? 'none' })
        stream.close()
      },
      { retry: 500, heartbeat: false },
    )
    app.get('/events', route)
    const url = await listen(app, transport)
    const { reader } = await stream(`${url}/events?q=ok`)
    expect(await reader.readToEnd()).toBe('retry: 500\n\nid: 1\ndata: ok\n\n')
    expect(route.streams.size).toBe(0)
  })

  it('keeps an sseRoute() stream open and intact until it is closed', async () => {
    const app = new Hono()
    const gate = deferred()
    app.get(
      '/events',
      sseRoute(
        async (stream) => {
          await stream.send('first')
          await gate.promise
          await stream.send('second')
          stream.close()
        },
        { heartbeat: false },
      ),
    )
    const url = await listen(app, transport)
    const { reader } = await stream(`${url}/events`)
    await reader.waitForEvents(1)
    // Give the host every chance to write (or end) the response behind the stream's back.
    await new Promise((resolve) => setImmediate(resolve))
    expect(reader.done).toBe(false)
    gate.resolve()
    expect(await reader.readToEnd()).toBe(`${preamble}data: first\n\ndata: second\n\n`)
    expect(reader.error).toBe(undefined)
  })

  it('keeps headers set with c.header() before c.sse(), each Set-Cookie included', async () => {
    const app = new Hono()
    app.use(sse({ heartbeat: false }))
    app.get('/events', (c) => {
      c.header('x-request-id', 'abc')
      c.header('access-control-allow-origin', 'https://example.test')
      c.header('set-cookie', 'a=1; Path=/', { append: true })
      c.header('set-cookie', 'b=2; Path=/', { append: true })
      return c.sse((stream) => stream.close())
    })
    const url = await listen(app, transport)
    const { response, reader } = await stream(`${url}/events`)
    expect(response.headers.get('x-request-id')).toBe('abc')
    expect(response.headers.get('access-control-allow-origin')).toBe('https://example.test')
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/'])
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await reader.readToEnd()).toBe(preamble)
  })

  it('notices a client disconnect: the stream closes, its signal aborts, nothing stays open', async () => {
    const app = new Hono()
    const middleware = sse({ heartbeat: 60_002 })
    app.use(middleware)
    const opened = deferred<EventStream>()
    let closes = 0
    app.get('/events', (c) =>
      c.sse(async (stream) => {
        stream.onClose(() => {
          closes++
        })
        opened.resolve(stream)
        await stream.send('hello')
      }),
    )
    const url = await listen(app, transport)
    const openBefore = getMetrics().openStreams
    const { reader, abort } = await stream(`${url}/events`)
    await reader.waitForEvents(1)
    const stream_ = await opened.promise
    expect(middleware.streams.size).toBe(1)
    await abort()
    await waitFor(() => stream_.closed, 5000, 'the server noticing the disconnect')
    expect(stream_.signal.aborted).toBe(true)
    expect(closes).toBe(1)
    expect(middleware.streams.size).toBe(0)
    expect(getMetrics().openStreams).toBe(openBefore)
  })

  it('hands an error thrown before the stream opened to app.onError', async () => {
    const app = new Hono()
    app.use(sse({ heartbeat: false }))
    app.get('/boom', (c) =>
      c.sse(() => {
        throw new Error('early')
      }),
    )
    const seen: string[] = []
    app.onError((error, c) => {
      seen.push(error.message)
      return c.json({ error: 'failed' }, 500)
    })
    const url = await listen(app, transport)
    const response = await fetch(`${url}/boom`)
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: 'failed' })
    expect(seen).toEqual(['early'])
  })
})

describe('options', () => {
  it('throws at sse() and sseRoute() for an invalid option, naming it', () => {
    expect(() => sse({ heartbeat: 'x' } as never)).toThrow(SseTypeError)
    expect(() => sse({ heartbeat: 'x' } as never)).toThrow(/option "heartbeat"/)
    expect(() => sseRoute(() => {}, { retry: 1.5 })).toThrow(/option "retry"/)
    expect(() => sseRoute(() => {}, { lastEventIdQury: 'x' } as never)).toThrow(
      /unknown option "lastEventIdQury"/,
    )
  })
})
