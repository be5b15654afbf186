/** ssekit through @ssekit/express on Express 5: res.sse() + createChannel. */
import { createServer } from 'node:http'
import { createChannel, getMetrics } from '@ssekit/core'
import { sse } from '@ssekit/express'
import express from 'express'
import { DATA, EVENT, ID, listen, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const channel = createChannel()
  const app = express()
  app.use(sse())
  app.get('/events', (_req, res) => {
    void channel.subscribe(res.sse())
  })
  app.get('/stream', async (req, res) => {
    const stream = res.sse()
    const n = streamCount(req.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) await stream.send({ event: EVENT, id: ID, data: DATA })
  })
  const server = createServer(app)
  return {
    port: await listen(server),
    server,
    publish() {
      void channel.publish({ event: EVENT, id: ID, data: DATA })
    },
    subscribers: () => channel.size,
    openStreams: () => getMetrics().openStreams,
  }
}
