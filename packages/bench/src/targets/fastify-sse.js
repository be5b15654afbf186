/**
 * @fastify/sse (the Fastify team's plugin) on Fastify 5. Plain JavaScript on purpose: its
 * `FastifyReply.sse` declaration and @ssekit/fastify's cannot both be in one TypeScript
 * program. It has no broadcast: open replies are kept in a Set and sent to one by one.
 */
import fastifySse from '@fastify/sse'
import Fastify from 'fastify'
import { DATA, EVENT, ID, streamCount } from '../shared.ts'

/** @type {import('../shared.ts').Start} */
export const start = async (hooks) => {
  const streams = new Set()
  const app = Fastify()
  await app.register(fastifySse)
  app.get('/events', { sse: 'only' }, async (_request, reply) => {
    reply.sse.keepAlive()
    reply.sse.sendHeaders()
    // sendHeaders() only sets them (writeHead): they would leave with the first event. Send
    // them now, as every other target does, so that a client sees the stream open.
    reply.raw.flushHeaders()
    const stream = reply.sse
    streams.add(stream)
    stream.onClose(() => streams.delete(stream))
  })
  app.get('/stream', { sse: 'only' }, async (request, reply) => {
    const n = streamCount(request.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) await reply.sse.send({ event: EVENT, id: ID, data: DATA })
  })
  await app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
  return {
    port: app.server.address().port,
    server: app.server,
    publish() {
      for (const stream of streams) void stream.send({ event: EVENT, id: ID, data: DATA })
    },
    subscribers: () => streams.size,
  }
}
