import type { EventStream, StreamGroup } from '@ssekit/core'
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import sse, { sse as named, type SseFastifyOptions } from './index.js'

describe('reply.sse()', () => {
  it('returns an EventStream, with no cast', async () => {
    const app = Fastify()
    await app.register(sse)
    app.get('/events', (_request, reply) => {
      expectTypeOf(reply.sse()).toEqualTypeOf<EventStream>()
      expectTypeOf(reply.sse({ retry: 1000 })).toEqualTypeOf<EventStream>()
    })
    app.get('/async', async (_request, reply) => {
      const stream = reply.sse()
      await stream.send({ event: 'x', data: 1 })
    })
  })

  it('takes the stream options, with authorize receiving the Fastify request', () => {
    const app = Fastify()
    app.get('/events', (_request, reply) => {
      reply.sse({
        authorize: (request) => {
          expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
          return true
        },
      })
      // @ts-expect-error heartbeat is a number of milliseconds or false
      reply.sse({ heartbeat: 'x' })
      // @ts-expect-error no such option
      reply.sse({ hearbeat: 1000 })
    })
  })

  it('decorates the instance with its open streams', () => {
    const app = Fastify()
    expectTypeOf(app.sseStreams).toEqualTypeOf<StreamGroup>()
  })
})

describe('register(sse, options)', () => {
  it('is the same plugin as a default and a named export', () => {
    expectTypeOf(named).toEqualTypeOf(sse)
  })

  it('takes the stream options plus shutdownRetry', async () => {
    const app = Fastify()
    await app.register(sse, { heartbeat: 10_000, shutdownRetry: { ms: 500, jitter: 500 } })
    const options: SseFastifyOptions = { retry: 3000, shutdownRetry: 1000 }
    await app.register(sse, options)
  })

  it('rejects wrong option types and unknown options', async () => {
    const app = Fastify()
    // @ts-expect-error heartbeat is a number of milliseconds or false
    await app.register(sse, { heartbeat: 'x' })
    // @ts-expect-error shutdownRetry is a number or { ms, jitter }
    await app.register(sse, { shutdownRetry: '1s' })
    // @ts-expect-error a typo is not an option
    await app.register(sse, { hearbeat: 1000 })
  })
})

describe('reply.sse<Events>()', () => {
  type Events = { token: string; done: { usage: number } }

  it('types send by the event map: a wrong name or payload does not compile', () => {
    const app = Fastify()
    app.get('/chat', (_request, reply) => {
      const stream = reply.sse<Events>()
      void stream.send({ event: 'token', data: 'Hel' })
      // @ts-expect-error no such event
      void stream.send({ event: 'tokn', data: 'Hel' })
      // @ts-expect-error the wrong payload
      void stream.send({ event: 'done', data: { usage: '3' } })
    })
  })
})
