import type { EventStream, StreamGroup } from '@ssekit/core'
import { type Context, type Env, Hono } from 'hono'
import { describe, expectTypeOf, it } from 'vitest'
import { type SseEnv, type SseFunction, type SseMiddleware, sse, sseRoute } from './index.js'

describe('c.sse()', () => {
  it('takes a handler of the stream and the context, and resolves to the Response', () => {
    const app = new Hono()
    app.use(sse())
    app.get('/events', (c) => {
      expectTypeOf(c.sse).toEqualTypeOf<SseFunction>()
      const response = c.sse(async (stream, ctx) => {
        expectTypeOf(stream).toEqualTypeOf<EventStream>()
        expectTypeOf(ctx).toMatchTypeOf<Context>()
        await stream.send('x')
      })
      expectTypeOf(response).toEqualTypeOf<Promise<Response>>()
      return response
    })
  })

  it('rejects wrong per-call options', () => {
    const app = new Hono()
    app.get('/events', (c) =>
      // @ts-expect-error retry is a number or { ms, jitter }
      c.sse(() => {}, { retry: 'soon' }),
    )
    app.get('/typo', (c) =>
      // @ts-expect-error a typo is not an option
      c.sse(() => {}, { hearbeat: 1000 }),
    )
  })
})

describe('c.var.sse', () => {
  it('is typed in a Hono<SseEnv> app', () => {
    const app = new Hono<SseEnv>()
    app.use(sse())
    app.get('/events', (c) => {
      expectTypeOf(c.var.sse).toEqualTypeOf<SseFunction>()
      expectTypeOf(c.get('sse')).toEqualTypeOf<SseFunction>()
      return c.var.sse((stream) => stream.close())
    })
  })

  it('is not there in an app that did not declare SseEnv', () => {
    const app = new Hono<{ Variables: { user: string } }>()
    app.get('/events', (c) => {
      // @ts-expect-error sse is not one of this app's variables
      return c.var.sse((stream) => stream.close())
    })
  })

  it('fits an app env that has other variables too', () => {
    type AppEnv = { Variables: SseEnv['Variables'] & { user: string } }
    const app = new Hono<AppEnv>()
    app.use(sse())
    app.get('/events', (c) => {
      expectTypeOf(c.var.user).toEqualTypeOf<string>()
      return c.var.sse((stream) => stream.close())
    })
  })
})

describe('sse() and sseRoute()', () => {
  it('returns a middleware with its streams, and a route handler with its streams', () => {
    const middleware = sse({ heartbeat: 15_000 })
    expectTypeOf(middleware).toEqualTypeOf<SseMiddleware>()
    expectTypeOf(middleware.streams).toEqualTypeOf<StreamGroup>()
    const route = sseRoute(async (stream, c) => {
      expectTypeOf(stream).toEqualTypeOf<EventStream>()
      await stream.send(c.req.path)
    })
    expectTypeOf(route.streams).toEqualTypeOf<StreamGroup>()
    new Hono().get('/events', route)
  })

  it('types the context of sseRoute() with the app env', () => {
    type AppEnv = { Variables: { user: string } }
    new Hono<AppEnv>().get(
      '/events',
      sseRoute<AppEnv>(async (stream, c) => {
        expectTypeOf(c.var.user).toEqualTypeOf<string>()
        await stream.send(c.var.user)
      }),
    )
  })

  it('rejects wrong option types and unknown options', () => {
    // @ts-expect-error heartbeat is a number of milliseconds or false
    sse({ heartbeat: 'x' })
    // @ts-expect-error a typo is not an option
    sse({ hearbeat: 1000 })
    // @ts-expect-error padding is a number of bytes
    sseRoute(() => {}, { padding: true })
    // @ts-expect-error the handler gets a stream, not a string
    sseRoute((stream: string) => stream)
  })
})

describe('c.sse<Events>() and sseRoute', () => {
  type Events = { token: string; done: { usage: number } }

  it('types the stream by the event map: a wrong name or payload does not compile', () => {
    const app = new Hono()
    app.get('/chat', (c) =>
      c.sse<Events>(async (stream) => {
        await stream.send({ event: 'token', data: 'Hel' })
        // @ts-expect-error no such event
        await stream.send({ event: 'tokn', data: 'Hel' })
        // @ts-expect-error the wrong payload
        await stream.send({ event: 'done', data: { usage: '3' } })
      }),
    )
    app.get(
      '/route',
      sseRoute<Env, Events>(async (stream) => {
        await stream.send({ event: 'done', data: { usage: 1 } })
        // @ts-expect-error the wrong payload
        await stream.send({ event: 'token', data: 1 })
      }),
    )
  })
})
