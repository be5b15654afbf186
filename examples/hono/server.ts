/**
 * The Hono example: `app.use(sse())` adds `c.sse(handler)`. On `@hono/node-server` the
 * streams are written to the Node response directly. The page at `/` opens three
 * EventSources: the clock, the notifications, and a generated answer.
 */
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import {
  answer,
  createDashboard,
  type DashboardOptions,
  noticeText,
  page,
} from '@ssekit/example-shared'
import { listening, type Running } from '@ssekit/example-shared/run'
import { sse } from '@ssekit/hono'
import { Hono } from 'hono'

/** Builds the app; `close()` ends its streams and stops its clock (the server is yours). */
export function createApp(options: DashboardOptions = {}) {
  const dash = createDashboard(options)
  const events = sse()
  const app = new Hono()
  app.use(events)

  app.get('/', (c) => c.html(page('Hono')))

  // A channel replays what a returning client missed (its Last-Event-ID), then goes live.
  app.get('/events/clock', (c) => c.sse((stream) => dash.join(stream, dash.clock)))
  app.get('/events/notifications', (c) => c.sse((stream) => dash.join(stream, dash.notifications)))

  app.post('/notifications', async (c) => {
    const text = noticeText(await c.req.json().catch(() => undefined))
    if (text === undefined) {
      return c.json({ error: 'Send { "text": "…" } with 1 to 280 characters.' }, 400)
    }
    const id = await dash.notifications.publish({
      event: 'notification',
      data: { text, at: Date.now() },
    })
    return c.json({ id }, 201)
  })

  // One stream per request: pipe() sends each token as it comes and stops the generator
  // if the client leaves; then a final `done` event, and the stream is closed.
  app.get('/generate', (c) =>
    c.sse(async (stream) => {
      const words = answer(c.req.query('prompt'))
      await stream.pipe(dash.typing(words))
      await stream.send({ event: 'done', data: { tokens: words.length } })
      stream.close()
    }),
  )

  // Ends every stream with a `retry:` hint, as a restart would: the browsers come back with
  // their Last-Event-ID and are replayed what they missed.
  app.post('/drop', (c) => {
    events.close({ retry: dash.dropRetry })
    return c.body(null, 204)
  })

  return {
    app,
    close() {
      events.close()
      dash.close()
    },
  }
}

export interface StartOptions extends DashboardOptions {
  /** 0 picks a free port. @default 3002 */
  port?: number
  /** @default every interface */
  host?: string
}

/** Starts the example; resolves once it listens, with its URL and a graceful `close()`. */
export async function start(options: StartOptions = {}): Promise<Running> {
  const { port = 3002, host, ...rest } = options
  const { app, close } = createApp(rest)
  const server = serve(
    host === undefined ? { fetch: app.fetch, port } : { fetch: app.fetch, port, hostname: host },
  ) as Server
  return listening(server, close)
}
