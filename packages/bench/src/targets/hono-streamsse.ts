/**
 * Hono's own `streamSSE` (hono/streaming) on @hono/node-server. Hono has no broadcast:
 * the idiomatic one keeps the open `SSEStreamingApi`s in a Set and writes to each, with
 * the payload serialized once.
 */

import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { DATA, EVENT, ID, listen, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const streams = new Set<SSEStreamingApi>()
  const app = new Hono()
  app.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      streams.add(stream)
      // streamSSE ends the response when this callback returns: stay until the client leaves.
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      streams.delete(stream)
    }),
  )
  app.get('/stream', (c) =>
    streamSSE(c, async (stream) => {
      const n = streamCount(c.req.url)
      hooks.streamStarted()
      for (let i = 0; i < n; i++) {
        await stream.writeSSE({ event: EVENT, id: ID, data: JSON.stringify(DATA) })
      }
    }),
  )
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  return {
    port: await listen(server),
    server,
    publish() {
      const data = JSON.stringify(DATA)
      for (const stream of streams) void stream.writeSSE({ event: EVENT, id: ID, data })
    },
    subscribers: () => streams.size,
  }
}
