/**
 * The Web path on a runtime other than Node (run by Bun in runtime-bun.test.ts): core's
 * `createEventStreamResponse` and Hono's `sseRoute`, served with the runtime's own server.
 * Prints `{"port":N}` once it listens.
 */

import { Hono } from 'hono'
import { getMetrics } from '../../../core/src/index.js'
import { sse } from '../../../hono/src/index.js'
import { coreResponse, greeting, mountShared } from './shared-routes.js'

declare const Bun: {
  serve(options: {
    port: number
    hostname: string
    idleTimeout?: number
    fetch: (request: Request, server: unknown) => Response | Promise<Response>
  }): { port: number }
}

const app = new Hono()
app.use('/sse/*', sse())
app.get('/sse/greeting', greeting)
mountShared(app)

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch(request) {
    if (new URL(request.url).pathname === '/core') return coreResponse(request)
    return app.fetch(request)
  },
})
// A server with Bun's idle timeout at 1 s (10 s by default, under the default 15 s
// heartbeat): c.sse() lifts it for stream requests, which their heartbeat keeps alive.
const quiet = new Hono()
quiet.use(sse())
quiet.get('/quiet', (c) =>
  c.sse(
    async (stream) => {
      await stream.send('open')
    },
    { heartbeat: 6000 },
  ),
)
// A producer that never awaits: only maxBufferedBytes stops it.
quiet.get('/firehose', (c) =>
  c.sse(
    (stream) => {
      let n = 0
      const pump = () => {
        if (stream.closed) return
        void stream.send({ id: ++n, data: 'f'.repeat(16 * 1024) })
        setTimeout(pump, 0)
      }
      pump()
    },
    { heartbeat: false, maxBufferedBytes: 64 * 1024, onError: () => {} },
  ),
)
quiet.get('/metrics', (c) => c.json(getMetrics()))
const idle = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  idleTimeout: 1,
  fetch: (request, server) => quiet.fetch(request, server),
})

console.log(JSON.stringify({ port: server.port, idlePort: idle.port }))
