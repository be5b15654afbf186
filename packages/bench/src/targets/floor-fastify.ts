/**
 * The floor on Fastify: the same hand-written writes as `floor`, to `reply.raw` of a
 * hijacked reply, as @ssekit/fastify does. What it costs over `floor` is Fastify's (a
 * Request and a Reply per connection, its hooks).
 */
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import Fastify, { type FastifyReply } from 'fastify'
import { FRAME, SSE_HEADERS, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const frame = Buffer.from(FRAME)
  const clients = new Set<ServerResponse>()
  const app = Fastify()
  const open = (reply: FastifyReply) => {
    reply.hijack()
    reply.raw.writeHead(200, SSE_HEADERS)
    reply.raw.flushHeaders()
    return reply.raw
  }
  app.get('/events', (_request, reply) => {
    const res = open(reply)
    clients.add(res)
    res.on('close', () => clients.delete(res))
  })
  app.get('/stream', async (request, reply) => {
    const res = open(reply)
    const n = streamCount(request.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) {
      if (!res.write(frame)) await once(res, 'drain')
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
  return {
    port: (app.server.address() as { port: number }).port,
    server: app.server,
    publish() {
      for (const res of clients) res.write(frame)
    },
    subscribers: () => clients.size,
  }
}
