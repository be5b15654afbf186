/**
 * Express-specific behaviour, on real servers for Express 5 and Express 4: the
 * `compression` middleware, per-route and per-router use, option errors at registration,
 * and a handler that throws before its stream opened.
 */
import { createRequire } from 'node:module'
import compression from 'compression'
import express5 from 'express'
import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { EventStream, SseTypeError } from '../../core/src/index.js'
import {
  deferred,
  fetchSse,
  RawClient,
  rawGet,
  type SseFetch,
  startServer,
  type TestServer,
  waitFor,
} from '../../core/src/test-utils/index.js'
import { sse } from './index.js'

// express@4 is installed under the alias "express4" (CommonJS, so require() it).
const express4 = createRequire(import.meta.url)('express4') as typeof express5

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close()
})

async function listen(app: express5.Express): Promise<TestServer<import('node:http').Server>> {
  const server = await startServer(app)
  open.push(server)
  return server
}

async function stream(url: string, init?: RequestInit): Promise<SseFetch> {
  const result = await fetchSse(url, init)
  open.push({ close: () => result.abort() })
  return result
}

describe.each([
  ['express 5', express5],
  ['express 4', express4],
] as const)('%s', (_name, express) => {
  it('sends events one by one, uncompressed, behind the compression middleware', async () => {
    const app = express()
    app.use(compression({ threshold: 0 }))
    app.use(sse({ heartbeat: false }))
    const gates = [deferred(), deferred()]
    app.get('/events', async (_req, res) => {
      const stream = res.sse()
      await stream.send({ event: 'step', data: 'one' })
      await gates[0]!.promise
      await stream.send({ event: 'step', data: 'two' })
      await gates[1]!.promise
      await stream.send({ event: 'step', data: 'three' })
      stream.close()
    })
    app.get('/page', (_req, res) => {
      res.type('text/plain').send('compress me '.repeat(200))
    })
    const server = await listen(app)

    // The middleware is active: an ordinary response is compressed.
    const page = await fetch(server.url('/page'), { headers: { 'accept-encoding': 'gzip' } })
    expect(page.headers.get('content-encoding')).toBe('gzip')
    await page.text()

    const { response, reader } = await stream(server.url('/events'), {
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    })
    expect(response.headers.get('content-encoding')).toBe(null)
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    // Each event is readable while the handler is still waiting to send the next one.
    await reader.waitForEvents(1)
    expect(reader.text).toBe('event: step\ndata: one\n\n')
    gates[0]!.resolve()
    await reader.waitForEvents(2)
    expect(reader.text).toBe('event: step\ndata: one\n\nevent: step\ndata: two\n\n')
    gates[1]!.resolve()
    expect(await reader.readToEnd()).toBe(
      'event: step\ndata: one\n\nevent: step\ndata: two\n\nevent: step\ndata: three\n\n',
    )
  })

  it('works per route (app.get(path, sse(), handler)) and per router, with their own options', async () => {
    const app = express()
    const router = express.Router()
    router.get('/feed', sse({ retry: 1000, heartbeat: false }), (_req, res) => {
      const stream = res.sse()
      stream.send('from the router').then(() => stream.close())
    })
    app.use('/r', router)
    app.get('/direct', sse({ retry: 2000, heartbeat: false }), (_req, res) => {
      const stream = res.sse({ retry: 3000 })
      stream.close()
    })
    app.get('/plain', (_req, res) => {
      res.json({ sse: typeof (res as { sse?: unknown }).sse })
    })
    const server = await listen(app)

    const routed = await request(server.url('')).get('/r/feed')
    expect(routed.status).toBe(200)
    expect(routed.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(routed.text).toBe('retry: 1000\n\ndata: from the router\n\n')
    // Per-call options override the middleware's.
    const direct = await request(server.url('')).get('/direct')
    expect(direct.text).toBe('retry: 3000\n\n')
    // Routes without the middleware get no res.sse().
    const plain = await request(server.url('')).get('/plain')
    expect(plain.body).toEqual({ sse: 'undefined' })
  })

  it('returns an EventStream from res.sse() and counts it in middleware.streams', async () => {
    const app = express()
    const middleware = sse({ heartbeat: false })
    app.use(middleware)
    const opened = deferred<unknown>()
    app.get('/events', (_req, res) => {
      opened.resolve(res.sse())
    })
    const server = await listen(app)
    const { response } = await stream(server.url('/events'))
    expect(response.status).toBe(200)
    expect(await opened.promise).toBeInstanceOf(EventStream)
    expect(middleware.streams.size).toBe(1)
    middleware.close({ retry: 250 })
    expect(middleware.streams.size).toBe(0)
  })

  it('throws ERR_SSE_HEADERS_SENT for res.sse() after res.send()', async () => {
    const app = express()
    app.use(sse({ heartbeat: false }))
    let thrown: unknown
    app.get('/sent', (_req, res) => {
      res.send('already answered')
      try {
        res.sse()
      } catch (error) {
        thrown = error
      }
    })
    const server = await listen(app)
    const response = await fetch(server.url('/sent'))
    expect(await response.text()).toBe('already answered')
    expect(thrown).toMatchObject({ name: 'SseError', code: 'ERR_SSE_HEADERS_SENT' })
  })

  it('reports a slow-client cut-off as one process warning per 10 s, however many', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    open.push({ close: () => process.off('warning', onWarning) })
    const app = express()
    app.use(sse({ heartbeat: false, maxBufferedBytes: 64 * 1024 }))
    const streams: EventStream[] = []
    app.get('/firehose', (_req, res) => {
      const stream = res.sse()
      streams.push(stream)
      const pump = () => {
        if (stream.closed) return
        void stream.send('f'.repeat(16 * 1024))
        setImmediate(pump)
      }
      pump()
    })
    const server = await listen(app)
    for (let i = 0; i < 2; i++) {
      const client = await RawClient.send(server.port, rawGet('/firehose'))
      client.socket.pause()
      open.push({ close: () => client.destroy() })
      await waitFor(() => streams[i]?.closed, 10_000, `cut-off ${i + 1}`)
    }
    await waitFor(() => warnings.length > 0, 2000, 'the warning')
    expect(warnings.map((w) => (w as { code?: string }).code)).toEqual(['ERR_SSE_SLOW_CLIENT'])
  })

  it('leaves the error middleware’s answer alone when the handler throws before the stream opened', async () => {
    const app = express()
    app.use(compression({ threshold: 0 }))
    app.use(sse({ heartbeat: 50 }))
    const opened = deferred<EventStream>()
    app.get('/boom', (_req, res) => {
      opened.resolve(res.sse())
      throw new Error('before the stream opened')
    })
    const errors: unknown[] = []
    // A large (and compressed, so asynchronously written) error page: it is still being
    // written when the stream would have opened.
    const page = 'Something went wrong. '.repeat(200_000)
    app.use(
      (
        error: unknown,
        _req: express5.Request,
        res: express5.Response,
        _next: express5.NextFunction,
      ) => {
        errors.push(error)
        res.status(500).type('text/plain').send(page)
      },
    )
    const server = await listen(app)
    const response = await fetch(server.url('/boom'))
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await response.text()).toBe(page)
    const stream = await opened.promise
    await waitFor(() => stream.closed, 2000, 'the unsent stream being closed')
    expect((errors as Error[]).map((e) => e.message)).toEqual(['before the stream opened'])
    // The server is still up.
    const again = await fetch(server.url('/boom'))
    expect(again.status).toBe(500)
    await again.text()
  })

  it('passes an invalid per-call option to the error middleware before anything is written', async () => {
    const app = express()
    app.use(sse())
    app.get('/events', (_req, res) => {
      res.sse({ retry: -1 })
    })
    const errors: unknown[] = []
    app.use(
      (
        error: unknown,
        _req: express5.Request,
        res: express5.Response,
        _next: express5.NextFunction,
      ) => {
        errors.push(error)
        res.status(500).send('bad options')
      },
    )
    const server = await listen(app)
    const response = await request(server.url('')).get('/events')
    expect(response.status).toBe(500)
    expect(response.text).toBe('bad options')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(SseTypeError)
    expect((errors[0] as Error).message).toMatch(/option "retry"/)
  })
})

describe('sse() options', () => {
  it('throws at registration for an unknown option, naming it', () => {
    expect(() => sse({ heartbeet: 1000 } as never)).toThrow(SseTypeError)
    expect(() => sse({ heartbeet: 1000 } as never)).toThrow(/unknown option "heartbeet"/)
  })

  it('throws at registration for a wrong value, naming the option and what it accepts', () => {
    expect(() => sse({ heartbeat: 'x' } as never)).toThrow(
      /option "heartbeat" must be a positive integer of milliseconds, or false to disable; received "x"/,
    )
    expect(() => sse({ overLimit: 'drop' } as never)).toThrow(
      /option "overLimit" must be 'retry' or 'reject'/,
    )
    try {
      sse({ padding: 1 })
      expect.unreachable()
    } catch (error) {
      expect((error as SseTypeError).code).toBe('ERR_SSE_INVALID_OPTION')
    }
  })

  it('does not mutate the options it is given', () => {
    const options = Object.freeze({ heartbeat: 1000, headers: Object.freeze({ 'x-a': '1' }) })
    expect(() => sse(options)).not.toThrow()
    expect(options).toEqual({ heartbeat: 1000, headers: { 'x-a': '1' } })
  })
})
