/** ssekit through @ssekit/core alone: node:http + createEventStream + createChannel. */
import { createServer } from 'node:http'
import { createChannel, createEventStream, getMetrics } from '@ssekit/core'
import { DATA, EVENT, ID, listen, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const channel = createChannel()
  const server = createServer(async (req, res) => {
    const stream = createEventStream(req, res)
    if (req.url === '/events') {
      void channel.subscribe(stream)
      return
    }
    const n = streamCount(req.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) await stream.send({ event: EVENT, id: ID, data: DATA })
  })
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
