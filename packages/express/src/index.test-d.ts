import type { IncomingMessage } from 'node:http'
import type { EventStream, StreamGroup, StreamOptions } from '@ssekit/core'
import express from 'express'
import { describe, expectTypeOf, it } from 'vitest'
import { type SseMiddleware, type SseRequest, sse } from './index.js'

describe('res.sse()', () => {
  it('returns an EventStream on every Response, with no cast', () => {
    const app = express()
    app.use(sse())
    app.get('/events', (_req, res) => {
      expectTypeOf(res.sse()).toEqualTypeOf<EventStream>()
      expectTypeOf(res.sse({ retry: 1000 })).toEqualTypeOf<EventStream>()
    })
  })

  it('takes the stream options, with authorize receiving the Express request', () => {
    const app = express()
    app.get('/events', (_req, res) => {
      res.sse({
        authorize: (req) => {
          expectTypeOf(req).toEqualTypeOf<SseRequest>()
          expectTypeOf(req).toMatchTypeOf<IncomingMessage>()
          return req.headers.authorization !== undefined
        },
      })
      // @ts-expect-error heartbeat is a number of milliseconds or false
      res.sse({ heartbeat: 'x' })
      // @ts-expect-error no such option
      res.sse({ heartbeet: 1000 })
    })
  })
})

describe('sse()', () => {
  it('gives authorize a request with its headers', () => {
    sse({
      authorize: (req) => {
        expectTypeOf(req.headers.cookie).toEqualTypeOf<string | undefined>()
        return 401
      },
    })
  })

  it('returns a middleware with its streams and close()', () => {
    const middleware = sse({ heartbeat: 15_000, retry: { ms: 2000, jitter: 1000 } })
    expectTypeOf(middleware).toEqualTypeOf<SseMiddleware>()
    expectTypeOf(middleware.streams).toEqualTypeOf<StreamGroup>()
    expectTypeOf(middleware.close)
      .parameter(0)
      .toEqualTypeOf<{ retry?: StreamOptions['retry'] } | undefined>()
    express().use(middleware)
    express.Router().get('/x', middleware, (_req, res) => res.sse().close())
  })

  it('rejects wrong option types and unknown options', () => {
    // @ts-expect-error heartbeat is a number of milliseconds or false
    sse({ heartbeat: 'x' })
    // @ts-expect-error retry is a number or { ms, jitter }
    sse({ retry: '1s' })
    // @ts-expect-error overLimit is 'retry' or 'reject'
    sse({ overLimit: 'drop' })
    // @ts-expect-error a typo is not an option
    sse({ heartbeet: 1000 })
    // @ts-expect-error header values are strings
    sse({ headers: { 'x-a': 1 } })
  })
})

describe('res.sse<Events>()', () => {
  type Events = { token: string; done: { usage: number } }

  it('types send by the event map: a wrong name or payload does not compile', () => {
    const app = express()
    app.get('/chat', (_req, res) => {
      const stream = res.sse<Events>()
      expectTypeOf(stream).toEqualTypeOf<EventStream<Events>>()
      void stream.send({ event: 'token', data: 'Hel' })
      void stream.send({ event: 'done', data: { usage: 3 } })
      // @ts-expect-error no such event
      void stream.send({ event: 'tokn', data: 'Hel' })
      // @ts-expect-error the wrong payload
      void stream.send({ event: 'done', data: { usage: '3' } })
      // @ts-expect-error a typo of `event`
      void stream.send({ evnt: 'token', data: 'Hel' })
    })
  })
})
