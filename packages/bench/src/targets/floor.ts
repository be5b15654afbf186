/** The floor: node:http writing one pre-built frame buffer to every client. */
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { FRAME, listen, SSE_HEADERS, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const frame = Buffer.from(FRAME)
  const clients = new Set<ServerResponse>()
  const server = createServer(async (req, res) => {
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    if (req.url === '/events') {
      clients.add(res)
      res.on('close', () => clients.delete(res))
      return
    }
    const n = streamCount(req.url)
    hooks.streamStarted()
    for (let i = 0; i < n; i++) {
      if (!res.write(frame)) await once(res, 'drain')
    }
  })
  return {
    port: await listen(server),
    server,
    publish() {
      for (const res of clients) res.write(frame)
    },
    subscribers: () => clients.size,
  }
}
