/**
 * The Express example: `app.use(sse())` gives every response `res.sse()`. The page at `/`
 * opens three EventSources: the clock, the notifications, and a generated answer.
 */
import {
  answer,
  createDashboard,
  type DashboardOptions,
  noticeText,
  page,
} from '@ssekit/example-shared'
import { listening, type Running } from '@ssekit/example-shared/run'
import { sse } from '@ssekit/express'
import express, { type Express } from 'express'

/** Builds the app; `close()` ends its streams and stops its clock (the server is yours). */
export function createApp(options: DashboardOptions = {}): { app: Express; close(): void } {
  const dash = createDashboard(options)
  const events = sse()
  const app = express()

  app.use(events)
  app.get('/', (_req, res) => res.type('html').send(page('Express')))

  // A channel replays what a returning client missed (its Last-Event-ID), then goes live.
  app.get('/events/clock', (_req, res) => dash.join(res.sse(), dash.clock))
  app.get('/events/notifications', (_req, res) => dash.join(res.sse(), dash.notifications))

  app.post('/notifications', express.json(), async (req, res) => {
    const text = noticeText(req.body)
    if (text === undefined) {
      res.status(400).json({ error: 'Send { "text": "…" } with 1 to 280 characters.' })
      return
    }
    const id = await dash.notifications.publish({
      event: 'notification',
      data: { text, at: Date.now() },
    })
    res.status(201).json({ id })
  })

  // One stream per request: pipe() sends each token as it comes and stops the generator
  // if the client leaves; then a final `done` event, and the stream is closed.
  app.get('/generate', async (req, res) => {
    const stream = res.sse()
    const words = answer(req.query.prompt)
    await stream.pipe(dash.typing(words))
    await stream.send({ event: 'done', data: { tokens: words.length } })
    stream.close()
  })

  // Ends every stream with a `retry:` hint, as a restart would: the browsers come back with
  // their Last-Event-ID and are replayed what they missed.
  app.post('/drop', (_req, res) => {
    events.close({ retry: dash.dropRetry })
    res.status(204).end()
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
  /** 0 picks a free port. @default 3000 */
  port?: number
  /** @default every interface */
  host?: string
}

/** Starts the example; resolves once it listens, with its URL and a graceful `close()`. */
export async function start(options: StartOptions = {}): Promise<Running> {
  const { port = 3000, host, ...rest } = options
  const { app, close } = createApp(rest)
  return listening(host === undefined ? app.listen(port) : app.listen(port, host), close)
}
