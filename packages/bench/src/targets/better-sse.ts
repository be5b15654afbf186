/**
 * better-sse on node:http: a Channel's broadcast, and Session#push for one stream. Its
 * initial `retry:` frame is turned off (ssekit sends none by default); keep-alive stays on
 * its default. better-sse writes no space after the colon, so its frame is 3 bytes shorter.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createChannel, createSession } from 'better-sse'
import { DATA, EVENT, ID, listen, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const channel = createChannel()
  const server = createServer(async (req, res) => {
    const session = await createSession(req, res, { retry: null })
    if (req.url === '/events') {
      channel.register(session)
      return
    }
    const n = streamCount(req.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) {
      session.push(DATA, EVENT, ID)
      // push() does not report backpressure; wait for drain the way a user has to.
      if (res.writableNeedDrain) await once(res, 'drain')
    }
  })
  return {
    port: await listen(server),
    server,
    publish() {
      channel.broadcast(DATA, EVENT, { eventId: ID })
    },
    subscribers: () => channel.sessionCount,
  }
}
