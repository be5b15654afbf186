/**
 * The Fastify example: `app.register(sse)` decorates `reply.sse()`. The page at `/` opens
 * three EventSources: the clock, the notifications, and a generated answer.
 */

import {
  answer,
  createDashboard,
  type DashboardOptions,
  noticeText,
  page,
} from '@ssekit/example-shared'
import sse from '@ssekit/fastify'
import Fastify from 'fastify'

/** Builds the app; `app.close()` ends its streams (the plugin's `preClose`) and its clock. */
export async function createApp(options: DashboardOptions = {}) {
  const dash = createDashboard(options)
  const app = Fastify()
  await app.register(sse)
  app.addHook('onClose', async () => dash.close())

  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page('Fastify')))

  // A channel replays what a returning client missed (its Last-Event-ID), then goes live.
  app.get('/events/clock', (_request, reply) => dash.join(reply.sse(), dash.clock))
  app.get('/events/notifications', (_request, reply) => dash.join(reply.sse(), dash.notifications))

  app.post('/notifications', async (request, reply) => {
    const text = noticeText(request.body)
    if (text === undefined) {
      return reply.code(400).send({ error: 'Send { "text": "…" } with 1 to 280 characters.' })
    }
    const id = await dash.notifications.publish({
      event: 'notification',
      data: { text, at: Date.now() },
    })
    return reply.code(201).send({ id })
  })

  // One stream per request: pipe() sends each token as it comes and stops the generator
  // if the client leaves; then a final `done` event, and the stream is closed.
  app.get<{ Querystring: { prompt?: string } }>('/generate', async (request, reply) => {
    const stream = reply.sse()
    const words = answer(request.query.prompt)
    await stream.pipe(dash.typing(words))
    await stream.send({ event: 'done', data: { tokens: words.length } })
    stream.close()
  })

  // Ends every stream with a `retry:` hint, as a restart would: the browsers come back with
  // their Last-Event-ID and are replayed what they missed.
  app.post('/drop', async (_request, reply) => {
    app.sseStreams.close({ retry: dash.dropRetry })
    return reply.code(204).send()
  })

  return app
}

export interface StartOptions extends DashboardOptions {
  /** 0 picks a free port. @default 3001 */
  port?: number
  /** @default 'localhost' */
  host?: string
}

/** Starts the example; resolves once it listens, with its URL and a graceful `close()`. */
export async function start(options: StartOptions = {}) {
  const { port = 3001, host, ...rest } = options
  const app = await createApp(rest)
  await app.listen(host === undefined ? { port } : { port, host })
  const address = app.server.address()
  const actual = typeof address === 'object' && address !== null ? address.port : port
  return {
    url: `http://localhost:${actual}`,
    server: app.server,
    /** `app.close()` ends the streams first (the plugin's preClose), then the server. */
    close: () => app.close(),
  }
}
