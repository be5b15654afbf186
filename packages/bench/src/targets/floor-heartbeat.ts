/**
 * The idle floor with a heartbeat: node:http and one `setInterval` at ssekit's default
 * interval writing a comment to every open response, as one would by hand. What a
 * heartbeat costs at its cheapest through `res.write()`: the reference for the idle CPU of
 * the libraries that send one.
 */
import { createServer, type ServerResponse } from 'node:http'
import { listen, SSE_HEADERS, type Start } from '../shared.js'

export const start: Start = async () => {
  const comment = Buffer.from(':\n\n')
  const clients = new Set<ServerResponse>()
  const server = createServer((_req, res) => {
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    clients.add(res)
    res.on('close', () => clients.delete(res))
  })
  setInterval(() => {
    for (const res of clients) res.write(comment)
  }, 15_000).unref()
  return {
    port: await listen(server),
    server,
    publish() {},
    subscribers: () => clients.size,
  }
}
