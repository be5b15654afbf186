/** ssekit through @ssekit/hono on @hono/node-server: c.sse(handler) + createChannel. */

import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { createChannel, getMetrics } from '@ssekit/core'
import { type SseEnv, sse } from '@ssekit/hono'
import { Hono } from 'hono'
import { DATA, EVENT, ID, listen, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const channel = createChannel()
  const app = new Hono<SseEnv>()
  app.use(sse())
  app.get('/events', (c) =>
    c.sse((stream) => {
      void channel.subscribe(stream)
    }),
  )
  app.get('/stream', (c) =>
    c.sse(async (stream) => {
      const n = streamCount(c.req.url)
      hooks.streamStarted()
      for (let i = 0; i < n; i++) await stream.send({ event: EVENT, id: ID, data: DATA })
    }),
  )
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
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
