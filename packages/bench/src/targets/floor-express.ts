/**
 * The floor on Express: the same hand-written writes as `floor`, on Express 5's response
 * objects. Express gives every response its own prototype (app.response), which makes each
 * ServerResponse#write dearer; this row shows that cost apart from @ssekit/express's.
 */
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import express from 'express'
import { FRAME, listen, SSE_HEADERS, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const frame = Buffer.from(FRAME)
  const clients = new Set<ServerResponse>()
  const app = express()
  app.get('/events', (_req, res) => {
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    clients.add(res)
    res.on('close', () => clients.delete(res))
  })
  app.get('/stream', async (req, res) => {
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    const n = streamCount(req.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) {
      if (!res.write(frame)) await once(res, 'drain')
    }
  })
  const server = createServer(app)
  return {
    port: await listen(server),
    server,
    publish() {
      for (const res of clients) res.write(frame)
    },
    subscribers: () => clients.size,
  }
}
