/**
 * The Web path on Cloudflare Workers (run by runtime-workerd.test.ts on workerd, bundled by
 * esbuild): a module Worker whose `fetch` answers `/core` with `createEventStreamResponse`
 * and everything else with a Hono app (`c.sse()` through `app.use(sse())`, and `sseRoute`).
 * What lives at module scope (the channel, its MemoryEventStore, the metrics) lives once
 * per isolate, shared by the requests that isolate serves.
 */
import { Hono } from 'hono'
import { createChannel, MemoryEventStore } from '../../../core/src/index.js'
import { sse } from '../../../hono/src/index.js'
import { firstEvent } from './first-event.js'
import { coreResponse, greeting, mountShared, news } from './shared-routes.js'

/** Errors the streams reported (none expected): a Worker has no process to warn on. */
const errors: string[] = []
const onError = (error: unknown) => {
  errors.push(String(error))
}

const app = new Hono()
app.use('/sse/*', sse({ onError }))
app.get('/sse/greeting', greeting)
// Idle after its first event: only its heartbeat writes, from its own request.
app.get('/sse/idle', (c) =>
  c.sse(
    async (stream) => {
      await stream.send({ data: 'open', id: c.req.query('n') ?? '' })
    },
    { heartbeat: Number(c.req.query('heartbeat') ?? 300) },
  ),
)
// `/news` is subscribed in one request; its events come from publishes made by other
// requests. On workerd a client that left is noticed at the next write: the heartbeat, here
// 500 ms.
mountShared(app, { heartbeat: 500, onError }, () => ({ subscribers: news.size, errors }))
// A stream with no heartbeat, waiting for publishes from other requests only: its own
// request has nothing left to wait for, which workerd takes for a hung Worker.
const lonely = createChannel({ event: 'lonely', store: new MemoryEventStore() })
app.get('/sse/lonely', (c) =>
  c.sse(
    async (stream) => {
      await lonely.subscribe(stream)
    },
    { heartbeat: false },
  ),
)
app.get('/first', firstEvent)

export default {
  fetch(request: Request): Response | Promise<Response> {
    if (new URL(request.url).pathname === '/core') return coreResponse(request, { onError })
    return app.fetch(request)
  },
}
