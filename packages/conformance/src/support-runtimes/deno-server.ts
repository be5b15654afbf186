/**
 * The Web path on Deno (run by runtime-deno.test.ts, bundled by esbuild): core's
 * `createEventStreamResponse` and Hono's `sseRoute` and `c.sse()`, served by `Deno.serve`.
 * Prints `{"port":N,"version":"…"}` once it listens. On SIGTERM it shuts down as an app
 * would: the middleware's `close()` and the route's `streams.close()` end their streams with
 * a `retry:`, then `server.shutdown()`; the process then exits by itself.
 */
import { Hono } from 'hono'
import {
  createChannel,
  createEventStreamResponse,
  getMetrics,
  MemoryEventStore,
} from '../../../core/src/index.js'
import { sse, sseRoute } from '../../../hono/src/index.js'
import { firstEvent } from './first-event.js'

declare const Deno: {
  version: { deno: string }
  serve(
    options: { port: number; hostname: string; onListen(address: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> }
  addSignalListener(signal: 'SIGTERM', handler: () => void): void
}

const news = createChannel({ event: 'news', store: new MemoryEventStore() })

const events = sse()
const app = new Hono()
app.use('/sse/*', events)
app.get('/sse/greeting', (c) =>
  c.sse(async (stream) => {
    await stream.send({ event: 'greeting', id: 7, data: { from: 'c.sse()' } })
    await stream.send('bye\r\nfor now')
    stream.close()
  }),
)
// Stays open until the client leaves or the app shuts down.
app.get('/sse/quiet', (c) =>
  c.sse(async (stream) => {
    await stream.send('open')
  }),
)
// Quiet after its first event: only the heartbeat writes.
app.get('/sse/beat', (c) =>
  c.sse(
    async (stream) => {
      await stream.send('open')
    },
    { heartbeat: 200 },
  ),
)
app.get(
  '/hono',
  sseRoute(async (stream) => {
    await stream.send({ event: 'greeting', id: 'h1', data: 'hello from hono\non two lines' })
    stream.close()
  }),
)
const newsRoute = sseRoute(async (stream) => {
  await news.subscribe(stream)
})
app.get('/news', newsRoute)
app.post('/publish', async (c) => c.json({ id: await news.publish(await c.req.json()) }))
app.get('/metrics', (c) => c.json(getMetrics()))
app.get('/first', firstEvent)

const server = Deno.serve(
  {
    port: 0,
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(JSON.stringify({ port, version: Deno.version.deno })),
  },
  (request) => {
    if (new URL(request.url).pathname === '/core') {
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
        { retry: 1500 },
      )
    }
    return app.fetch(request)
  },
)

Deno.addSignalListener('SIGTERM', () => {
  // Deno's shutdown() waits for every response to finish: streams end first.
  events.close({ retry: { ms: 2000, jitter: 0 } })
  newsRoute.streams.close({ retry: { ms: 3000, jitter: 0 } })
  void server.shutdown().then(() => console.log('shut down'))
})
