/**
 * Fastify-specific behaviour on real servers: sync and async handlers with no second
 * response, headers set with reply.header(), app.close() with open streams, HTTP/2 (h2c),
 * and option errors at register().
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { type EventStream, SseTypeError } from '../../core/src/index.js'
import {
  deferred,
  fetchSse,
  h2Request,
  RawClient,
  rawGet,
  type SseFetch,
  waitFor,
} from '../../core/src/test-utils/index.js'
import sse, { type SseFastifyOptions } from './index.js'

interface Logged {
  level: number
  msg?: string
  err?: { message?: string }
}

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

/** A Fastify app whose warnings and errors are kept in `logs`. */
function makeApp(options: Record<string, unknown> = {}): { app: FastifyInstance; logs: Logged[] } {
  const logs: Logged[] = []
  const app = Fastify({
    ...options,
    logger: {
      level: 'warn',
      stream: {
        write(line: string) {
          logs.push(JSON.parse(line) as Logged)
        },
      },
    },
  }) as unknown as FastifyInstance
  cleanups.push(() => app.close())
  return { app, logs }
}

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' })
}

async function stream(url: string, init?: RequestInit): Promise<SseFetch> {
  const result = await fetchSse(url, init)
  cleanups.push(() => result.abort())
  return result
}

describe('reply.sse()', () => {
  it('works from a sync handler, an async handler and one that returns reply, with no second response', async () => {
    const { app, logs } = makeApp()
    await app.register(sse, { heartbeat: false })
    app.get('/sync', (_request, reply) => {
      const stream = reply.sse()
      stream.send('sync').then(() => stream.close())
    })
    app.get('/async', async (_request, reply) => {
      const stream = reply.sse()
      await stream.send('async')
      stream.close()
    })
    app.get('/returns-reply', async (_request, reply) => {
      const stream = reply.sse()
      await stream.send('returned')
      stream.close()
      return reply
    })
    const url = await listen(app)
    for (const path of ['sync', 'async', 'returns-reply']) {
      const { response, reader } = await stream(`${url}/${path}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      expect(await reader.readToEnd()).toBe(
        `data: ${path === 'returns-reply' ? 'returned' : path}\n\n`,
      )
    }
    // No "Reply was already sent", nothing logged at warn or error.
    expect(logs).toEqual([])
  })

  it('keeps headers set with reply.header() before reply.sse(), repeated ones too', async () => {
    const { app } = makeApp()
    await app.register(sse, { heartbeat: false })
    app.get('/events', (_request, reply) => {
      reply.header('x-request-id', 'abc').header('set-cookie', ['a=1', 'b=2'])
      reply.header('content-type', 'application/json')
      reply.sse().close()
    })
    const url = await listen(app)
    const { response, reader } = await stream(`${url}/events`)
    expect(response.headers.get('x-request-id')).toBe('abc')
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await reader.readToEnd()).toBe('')
  })

  it('logs a synchronous throw after reply.sse() once, as an error, and answers 500', async () => {
    const { app, logs } = makeApp()
    await app.register(sse, { heartbeat: false })
    app.get('/boom', (_request, reply) => {
      reply.sse()
      throw new Error('sync boom')
    })
    const url = await listen(app)
    const response = await fetch(`${url}/boom`)
    expect(response.status).toBe(500)
    expect(await response.text()).toBe('Internal Server Error')
    await waitFor(() => logs.length > 0, 2000, 'the error being logged')
    expect(logs.map((l) => [l.level, l.err?.message])).toEqual([[50, 'sync boom']])
    expect(app.sseStreams.size).toBe(0)
  })
})

describe('misuse and warnings', () => {
  it('throws ERR_SSE_HEADERS_SENT for reply.sse() after reply.send(), not a raw Node error', async () => {
    const { app } = makeApp()
    await app.register(sse, { heartbeat: false })
    let thrown: unknown
    app.get('/sent', async (_request, reply) => {
      await reply.send('already answered')
      try {
        reply.sse()
      } catch (error) {
        thrown = error
      }
    })
    const url = await listen(app)
    const response = await fetch(`${url}/sent`)
    expect(await response.text()).toBe('already answered')
    expect(thrown).toMatchObject({
      name: 'SseError',
      code: 'ERR_SSE_HEADERS_SENT',
      message:
        '@ssekit/core: the response has already started; open the event stream before anything else writes to it.',
    })
    expect(app.sseStreams.size).toBe(0)
  })

  it('logs a slow-client cut-off as a warning in the app log, once per 10 s however many', async () => {
    const { app, logs } = makeApp()
    await app.register(sse, { heartbeat: false, maxBufferedBytes: 64 * 1024 })
    const streams: EventStream[] = []
    app.get('/firehose', (_request, reply) => {
      const stream = reply.sse()
      streams.push(stream)
      const pump = () => {
        if (stream.closed) return
        void stream.send('f'.repeat(16 * 1024))
        setImmediate(pump)
      }
      pump()
    })
    const url = await listen(app)
    const { port } = new URL(url)
    for (let i = 0; i < 2; i++) {
      const client = await RawClient.send(Number(port), rawGet('/firehose'))
      client.socket.pause()
      cleanups.push(() => client.destroy())
      await waitFor(() => streams[i]?.closed, 10_000, `cut-off ${i + 1}`)
    }
    const warnings = logs.filter((l) => l.level === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toMatch(
      /^@ssekit\/core: a client fell more than maxBufferedBytes \(65536\) behind and was cut off/,
    )
    expect(logs.filter((l) => l.level >= 50)).toEqual([])
  })
})

describe('app.close()', () => {
  it('ends open streams promptly, each with a retry: frame, and resolves', async () => {
    const { app } = makeApp()
    await app.register(sse, { heartbeat: false, shutdownRetry: 700 })
    const opened: EventStream[] = []
    app.get('/events', async (_request, reply) => {
      const stream = reply.sse()
      opened.push(stream)
      await stream.send('hi')
    })
    const url = await listen(app)
    const clients = [await stream(`${url}/events`), await stream(`${url}/events`)]
    for (const client of clients) await client.reader.waitForEvents(1)
    expect(app.sseStreams.size).toBe(2)

    const started = performance.now()
    await app.close()
    expect(performance.now() - started).toBeLessThan(2000)
    for (const client of clients) {
      expect(await client.reader.readToEnd()).toBe('data: hi\n\nretry: 700\n\n')
      expect(client.reader.error).toBe(undefined)
    }
    expect(opened.map((s) => s.closed)).toEqual([true, true])
    expect(app.sseStreams.size).toBe(0)
  })
})

describe('HTTP/2', () => {
  it('streams over h2c with status 200, the SSE headers and no Connection header', async () => {
    const { app } = makeApp({ http2: true })
    await app.register(sse, {
      heartbeat: false,
      headers: { 'x-extra': '1', 'transfer-encoding': 'chunked' },
    })
    const gate = deferred()
    app.get('/events', async (_request, reply) => {
      const stream = reply.sse()
      await stream.send({ event: 'first', data: 'one' })
      await gate.promise
      await stream.send({ id: '2', data: 'two\nlines' })
      stream.close()
    })
    const url = await listen(app)
    const response = await h2Request(url, '/events')
    cleanups.push(() => response.close())
    expect(response.headers[':status']).toBe(200)
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(response.headers['cache-control']).toBe('no-cache, no-transform')
    expect(response.headers['x-accel-buffering']).toBe('no')
    expect(response.headers['x-extra']).toBe('1')
    expect(response.headers.connection).toBe(undefined)
    expect(response.headers['transfer-encoding']).toBe(undefined)
    // The first event arrives while the handler still waits: nothing is buffered.
    await waitFor(() => response.text().length > 0, 5000, 'the first event over HTTP/2')
    expect(response.text()).toBe('event: first\ndata: one\n\n')
    gate.resolve()
    await response.ended
    expect(response.text()).toBe('event: first\ndata: one\n\nid: 2\ndata: two\ndata: lines\n\n')
  })

  it('closes the stream when the HTTP/2 client goes away', async () => {
    const { app } = makeApp({ http2: true })
    await app.register(sse, { heartbeat: false })
    const opened = deferred<EventStream>()
    app.get('/events', async (_request, reply) => {
      const stream = reply.sse()
      opened.resolve(stream)
      await stream.send('hello')
    })
    const url = await listen(app)
    const response = await h2Request(url, '/events')
    await waitFor(() => response.text() === 'data: hello\n\n', 5000, 'the first event')
    const stream = await opened.promise
    response.close()
    await waitFor(() => stream.closed, 5000, 'the server noticing')
    expect(stream.signal.aborted).toBe(true)
    expect(app.sseStreams.size).toBe(0)
  })
})

describe('register() options', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown option', { hearbeat: 1000 }, /unknown option "hearbeat"/],
    ['a wrong heartbeat', { heartbeat: 'x' }, /option "heartbeat" must be a positive integer/],
    ['a wrong header value', { headers: { 'x-a': 'a\r\nb' } }, /option "headers\["x-a"\]"/],
    [
      'a wrong shutdownRetry',
      { shutdownRetry: -1 },
      /option "shutdownRetry" must be a non-negative integer/,
    ],
  ]
  it.each(cases)('rejects %s at register, naming the option', async (_name, options, message) => {
    const { app } = makeApp()
    const registered = app.register(sse, options as SseFastifyOptions)
    await expect(registered).rejects.toThrow(SseTypeError)
    await expect(app.ready()).rejects.toThrow(message)
  })
})
