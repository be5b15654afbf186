/**
 * The idle floor with a heartbeat: node:http and one `setInterval` at ssekit's default
 * interval writing a comment to every open response, as one would by hand. What a
 * heartbeat costs at its cheapest through `res.write()`: the reference for the idle CPU of
 * the libraries that send one.
 */
import { createServer, type ServerResponse } from 'node:http'
import { handWritten, listen, type Start } from '../shared.js'

export const start: Start = async (hooks) => {
  const floor = handWritten(hooks)
  const comment = Buffer.from(':\n\n')
  const open = new Set<ServerResponse>()
  const server = createServer((_req, res) => {
    floor.open(res)
    open.add(res)
    res.on('close', () => open.delete(res))
  })
  setInterval(() => {
    for (const res of open) res.write(comment)
  }, 15_000).unref()
  return {
    port: await listen(server),
    server,
    publish() {},
    subscribers: () => open.size,
  }
}
