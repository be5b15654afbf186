/** The floor: node:http writing one pre-built frame buffer to every client. */
import { createServer } from 'node:http'
import { handWritten, listen, type Start } from '../shared.js'

export const start: Start = async (hooks) => {
  const floor = handWritten(hooks)
  const server = createServer((req, res) => {
    floor.open(res)
    if (req.url === '/events') floor.follow(res)
    else void floor.stream(res, req.url)
  })
  return {
    port: await listen(server),
    server,
    publish: floor.publish,
    subscribers: floor.subscribers,
  }
}
