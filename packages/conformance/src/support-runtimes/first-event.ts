/**
 * The endpoint first-event latency is measured on, the same on every runtime: Hono's
 * `sseRoute`, one event at once, then the end.
 */
import { sseRoute } from '../../../hono/src/index.js'

export const firstEvent = sseRoute(async (stream) => {
  await stream.send('first')
  stream.close()
})

/** Its body on the Web transport, which opens with a comment (Bun, Deno, Workers). */
export const FIRST_EVENT_WEB = ':\n\ndata: first\n\n'
/** Its body on the Node transport (Hono on @hono/node-server). */
export const FIRST_EVENT_NODE = 'data: first\n\n'
