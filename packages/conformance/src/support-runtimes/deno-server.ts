/**
 * The Web path on Deno (run by runtime-deno.test.ts, bundled by esbuild): core's
 * `createEventStreamResponse` and Hono's `sseRoute` and `c.sse()`, served by `Deno.serve`.
 * Prints `{"port":N,"version":"…"}` once it listens. On SIGTERM it shuts down as an app
 * would: the middleware's `close()` and the route's `streams.close()` end their streams with
 * a `retry:`, then `server.shutdown()`; the process then exits by itself.
 */
import { Hono } from 'hono'
import { sse } from '../../../hono/src/index.js'
import { firstEvent } from './first-event.js'
import { coreResponse, greeting, mountShared } from './shared-routes.js'

declare const Deno: {
  version: { deno: string }
  serve(
    options: { port: number; hostname: string; onListen(address: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> }
  addSignalListener(signal: 'SIGTERM', handler: () => void): void
}

const events = sse()
const app = new Hono()
app.use('/sse/*', events)
app.get('/sse/greeting', greeting)
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
const { newsRoute } = mountShared(app)
app.get('/first', firstEvent)

const server = Deno.serve(
  {
    port: 0,
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(JSON.stringify({ port, version: Deno.version.deno })),
  },
  (request) => {
    if (new URL(request.url).pathname === '/core') return coreResponse(request)
    return app.fetch(request)
  },
)

Deno.addSignalListener('SIGTERM', () => {
  // Deno's shutdown() waits for every response to finish: streams end first.
  events.close({ retry: { ms: 2000, jitter: 0 } })
  newsRoute.streams.close({ retry: { ms: 3000, jitter: 0 } })
  void server.shutdown().then(() => console.log('shut down'))
})
