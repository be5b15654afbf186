/** ssekit through @ssekit/fastify on Fastify 5: reply.sse() + createChannel. */
import { createChannel, getMetrics } from '@ssekit/core'
import { sse } from '@ssekit/fastify'
import Fastify from 'fastify'
import { DATA, EVENT, ID, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const channel = createChannel()
  const app = Fastify()
  await app.register(sse)
  app.get('/events', (_request, reply) => {
    void channel.subscribe(reply.sse())
  })
  app.get('/stream', async (request, reply) => {
    const stream = reply.sse()
    const n = streamCount(request.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) await stream.send({ event: EVENT, id: ID, data: DATA })
  })
  await app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return {
    port: address.port,
    server: app.server,
    publish() {
      void channel.publish({ event: EVENT, id: ID, data: DATA })
    },
    subscribers: () => channel.size,
    openStreams: () => getMetrics().openStreams,
  }
}
