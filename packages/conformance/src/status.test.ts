/**
 * Status and headers of responses that end at once, read with supertest: refusals by
 * `authorize` and by `maxStreams`, and a short stream read to its end.
 */
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { adapters, type Route } from './adapters.js'
import { useHarness } from './support/harness.js'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  const guarded = (authorize: NonNullable<Route['options']>['authorize']): Route => ({
    method: 'GET',
    path: '/private',
    options: { heartbeat: false, authorize },
    handler: async (stream) => {
      await stream.send('secret')
      stream.close()
    },
  })

  it('answers 401 with no stream when authorize returns 401', async () => {
    const app = await h.start(adapter, [guarded(() => 401)])
    const response = await request(app.url).get('/private').set('accept', 'text/event-stream')
    expect(response.status).toBe(401)
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(response.text).toBe('Unauthorized')
    expect(app.openStreams()).toBe(0)
  })

  it('answers 403 with no stream when an async authorize resolves false', async () => {
    const app = await h.start(adapter, [guarded(async () => false)])
    const response = await request(app.url).get('/private')
    expect(response.status).toBe(403)
    expect(response.text).toBe('Forbidden')
    expect(response.text).not.toContain('secret')
  })

  it('answers 500 when authorize throws, without the error message', async () => {
    const reported: unknown[] = []
    const route = guarded(() => {
      throw new Error('database down')
    })
    route.options = { ...route.options, onError: (error) => reported.push(error) }
    const app = await h.start(adapter, [route])
    const response = await request(app.url).get('/private')
    expect(response.status).toBe(500)
    expect(response.text).toBe('Internal Server Error')
    expect(reported.map((e) => (e as Error).message)).toEqual(['database down'])
  })

  it('streams to an authorized request as usual', async () => {
    const app = await h.start(adapter, [guarded((context) => context !== undefined)])
    const response = await request(app.url).get('/private')
    expect(response.status).toBe(200)
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(response.text).toBe(`${adapter.preamble}data: secret\n\n`)
  })

  it("answers 503 with Retry-After beyond maxStreams when overLimit is 'reject'", async () => {
    const app = await h.start(adapter, [{ method: 'GET', path: '/events', handler: () => {} }], {
      heartbeat: false,
      maxStreams: 1,
      overLimit: 'reject',
      limitRetry: 3000,
    })
    const first = await h.fetchSse(`${app.url}/events`)
    expect(first.response.status).toBe(200)
    const response = await request(app.url).get('/events')
    expect(response.status).toBe(503)
    expect(response.headers['retry-after']).toBe('3')
    expect(response.text).toBe('Service Unavailable')
    expect(app.openStreams()).toBe(1)
  })

  it("answers 200 with only a retry: frame beyond maxStreams when overLimit is 'retry'", async () => {
    const app = await h.start(adapter, [{ method: 'GET', path: '/events', handler: () => {} }], {
      heartbeat: false,
      maxStreams: 1,
      limitRetry: 1500,
    })
    const first = await h.fetchSse(`${app.url}/events`)
    expect(first.response.status).toBe(200)
    const response = await request(app.url).get('/events')
    expect(response.status).toBe(200)
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(response.text).toBe('retry: 1500\n\n')
  })
})
