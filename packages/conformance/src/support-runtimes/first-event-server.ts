/**
 * Serves the first-event endpoint (`GET /first`) with Hono on the runtime that runs it: on
 * Bun with `Bun.serve` (the Web transport), on Node with `@hono/node-server` (the Node
 * transport). Prints `{"port":N,"version":"…"}` once it listens. Run by
 * first-event-latency.test.ts: Bun runs this file as is, Node an esbuild bundle of it.
 */
import { Hono } from 'hono'
import { firstEvent } from './first-event.js'

declare const Bun:
  | {
      version: string
      serve(options: {
        port: number
        hostname: string
        fetch: (request: Request, server: unknown) => Response | Promise<Response>
      }): { port: number }
    }
  | undefined

const app = new Hono()
app.get('/first', firstEvent)

if (typeof Bun !== 'undefined') {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (request, server) => app.fetch(request, server),
  })
  console.log(JSON.stringify({ port: server.port, version: Bun.version }))
} else {
  const { serve } = await import('@hono/node-server')
  serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, ({ port }) => {
    console.log(JSON.stringify({ port, version: process.versions.node }))
  })
}
