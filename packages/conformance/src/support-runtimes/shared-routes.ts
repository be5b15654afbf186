/**
 * What every non-Node runtime server of the tests (Bun, Deno, workerd) serves alike, so that
 * each script keeps only what is particular to its runtime: core's
 * `createEventStreamResponse` on `/core`, and on a Hono app `/hono` (`sseRoute`), `/news`
 * (a channel with a MemoryEventStore: events, resume after Last-Event-ID), `/publish` and
 * `/metrics`.
 */
import type { Context, Hono } from 'hono'
import {
  type Channel,
  createChannel,
  createEventStreamResponse,
  getMetrics,
  MemoryEventStore,
  type StreamOptions,
} from '../../../core/src/index.js'
import { type SseEnv, sseRoute } from '../../../hono/src/index.js'

/** The news channel, one per process (per isolate on workerd). */
export const news: Channel = createChannel({ event: 'news', store: new MemoryEventStore() })

/** `/core`: three items through `pipe()`, a final event, the end; `retry: 1500` first. */
export function coreResponse(request: Request, options: StreamOptions<Request> = {}) {
  return createEventStreamResponse(
    request,
    async (stream) => {
      async function* tokens() {
        yield 'Server'
        yield 'Sent'
        yield { kind: 'Events' }
      }
      await stream.pipe(tokens())
      await stream.send({ event: 'done', data: '[DONE]' })
      stream.close()
    },
    { retry: 1500, ...options },
  )
}

/** `/sse/greeting`, behind the server's own `app.use('/sse/*', sse(…))`: ids, JSON, CRLF. */
export function greeting(c: Context<SseEnv>) {
  return c.sse(async (stream) => {
    await stream.send({ event: 'greeting', id: 7, data: { from: 'c.sse()' } })
    await stream.send('bye\r\nfor now')
    stream.close()
  })
}

/**
 * Mounts `/hono`, `/news` (with `newsOptions`), `/publish` and `/metrics` (with `extra`);
 * returns the `/news` route, whose `streams` a shutdown closes.
 */
export function mountShared(
  app: Hono,
  newsOptions: StreamOptions = {},
  extra: () => Record<string, unknown> = () => ({}),
) {
  app.get(
    '/hono',
    sseRoute(async (stream) => {
      await stream.send({ event: 'greeting', id: 'h1', data: 'hello from hono\non two lines' })
      stream.close()
    }),
  )
  const newsRoute = sseRoute(async (stream) => {
    await news.subscribe(stream)
  }, newsOptions)
  app.get('/news', newsRoute)
  app.post('/publish', async (c) => c.json({ id: await news.publish(await c.req.json()) }))
  app.get('/metrics', (c) => c.json({ ...getMetrics(), ...extra() }))
  return { newsRoute }
}
