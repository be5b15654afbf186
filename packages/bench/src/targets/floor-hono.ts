/**
 * The floor on Hono: the same hand-written writes as `floor`, to the Node response that
 * @hono/node-server hands the route (`c.env.outgoing`), as @ssekit/hono does. What it
 * costs over `floor` is Hono's and the adaptor's (a Context, a Request per connection).
 */
import type { Server } from 'node:http'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { Hono } from 'hono'
import { handWritten, listen, type Start } from '../shared.js'

export const start: Start = async (hooks) => {
  const floor = handWritten(hooks)
  const app = new Hono<{ Bindings: HttpBindings }>()
  app.get('/events', (c) => {
    floor.follow(floor.open(c.env.outgoing))
    return RESPONSE_ALREADY_SENT
  })
  app.get('/stream', (c) => {
    void floor.stream(floor.open(c.env.outgoing), c.req.url)
    return RESPONSE_ALREADY_SENT
  })
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  return {
    port: await listen(server),
    server,
    publish: floor.publish,
    subscribers: floor.subscribers,
  }
}
