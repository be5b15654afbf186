/**
 * The floor on Fastify: the same hand-written writes as `floor`, to `reply.raw` of a
 * hijacked reply, as @ssekit/fastify does. What it costs over `floor` is Fastify's (a
 * Request and a Reply per connection, its hooks).
 */
import Fastify, { type FastifyReply } from 'fastify'
import { handWritten, type Start } from '../shared.js'

export const start: Start = async (hooks) => {
  const floor = handWritten(hooks)
  const app = Fastify()
  const open = (reply: FastifyReply) => {
    reply.hijack()
    return floor.open(reply.raw)
  }
  app.get('/events', (_request, reply) => floor.follow(open(reply)))
  app.get('/stream', (request, reply) => floor.stream(open(reply), request.url))
  await app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
  return {
    port: (app.server.address() as { port: number }).port,
    server: app.server,
    publish: floor.publish,
    subscribers: floor.subscribers,
  }
}
