/**
 * The floor on Express: the same hand-written writes as `floor`, on Express 5's response
 * objects. Express gives every response its own prototype (app.response), which makes each
 * ServerResponse#write dearer; this row shows that cost apart from @ssekit/express's.
 */
import { createServer } from 'node:http'
import express from 'express'
import { handWritten, listen, type Start } from '../shared.js'

export const start: Start = async (hooks) => {
  const floor = handWritten(hooks)
  const app = express()
  app.get('/events', (_req, res) => floor.follow(floor.open(res)))
  app.get('/stream', (req, res) => floor.stream(floor.open(res), req.url))
  const server = createServer(app)
  return {
    port: await listen(server),
    server,
    publish: floor.publish,
    subscribers: floor.subscribers,
  }
}
