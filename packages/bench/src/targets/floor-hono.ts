/**
 * The floor on Hono: the same hand-written writes as `floor`, to the Node response that
 * @hono/node-server hands the route (`c.env.outgoing`), as @ssekit/hono does. What it
 * costs over `floor` is Hono's and the adaptor's (a Context, a Request per connection).
 */
import { once } from 'node:events'
import type { Server, ServerResponse } from 'node:http'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { Hono } from 'hono'
import { FRAME, listen, SSE_HEADERS, type Start, streamCount } from '../shared.js'

export const start: Start = async (hooks) => {
  const frame = Buffer.from(FRAME)
  const clients = new Set<ServerResponse>()
  const app = new Hono<{ Bindings: HttpBindings }>()
  const open = (res: ServerResponse) => {
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
  }
  app.get('/events', (c) => {
    const res = c.env.outgoing
    open(res)
    clients.add(res)
    res.on('close', () => clients.delete(res))
    return RESPONSE_ALREADY_SENT
  })
  app.get('/stream', (c) => {
    const res = c.env.outgoing
    open(res)
    const n = streamCount(c.req.url)
    void (async () => {
      hooks.streamStarted()
      for (let i = 0; i < n; i++) {
        if (!res.write(frame)) await once(res, 'drain')
      }
    })()
    return RESPONSE_ALREADY_SENT
  })
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  return {
    port: await listen(server),
    server,
    publish() {
      for (const res of clients) res.write(frame)
    },
    subscribers: () => clients.size,
  }
}
