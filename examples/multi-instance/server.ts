/**
 * One instance of the example, on Express or on Hono: the same four routes either way. The
 * channel `demo` is a named log in Redis, so every instance that creates it with the same
 * store settings serves the same channel: a publish through one reaches the clients of all,
 * and a client that comes back to another instance with its Last-Event-ID is replayed what
 * it missed, then goes live.
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createChannel, type EventStream } from '@ssekit/core'
import { sse as expressSse } from '@ssekit/express'
import { sse as honoSse } from '@ssekit/hono'
import { RedisEventStore } from '@ssekit/redis'
import express from 'express'
import { Hono } from 'hono'

export type Framework = 'express' | 'hono'

export interface InstanceOptions {
  /** What the page shows for this instance: `a`, `b`… */
  id: string
  framework: Framework
  redisUrl: string
  /** 0 picks a free port. */
  port: number
  /** @default '127.0.0.1' */
  host?: string
}

export interface RunningInstance {
  url: string
  server: Server
  /** Ends the streams (with a `retry:` hint), the server and the Redis connections. */
  close(): Promise<void>
}

const LONGEST = 280
const page = readFileSync(new URL('./public/index.html', import.meta.url), 'utf8')

/** What the instances share, apart from the framework: the channel and its three actions. */
function createDemo(options: InstanceOptions) {
  const label = options.framework === 'express' ? 'Express' : 'Hono'
  const me = { instance: options.id, framework: label, pid: process.pid }
  const store = new RedisEventStore({ url: options.redisUrl, prefix: 'ssekit-demo:' })
  // Cheap to create: one per request is the usual way; the log is the truth, not the object.
  const channel = () =>
    createChannel<{ message: { text: string; via: string; at: number } }>({ name: 'demo', store })
  return {
    me,
    store,
    /** Tells the page who answered (no id: its Last-Event-ID stays), then subscribes. */
    async join(stream: EventStream): Promise<void> {
      void stream.send({
        event: 'hello',
        data: { ...me, lastEventId: stream.lastEventId ?? null, at: Date.now() },
      })
      await channel().subscribe(stream, {
        // An id no instance can resume from (Redis was emptied): say so, go on live.
        onGap: (gap) => void stream.send({ event: 'gap', data: { reason: gap.reason } }),
      })
    },
    /** `{ text }` → `{ status, body }` */
    async publish(body: unknown): Promise<{ status: 201 | 400 | 503; body: object }> {
      const text = (body as { text?: unknown } | null | undefined)?.text
      if (typeof text !== 'string' || text.trim() === '' || text.length > LONGEST) {
        return {
          status: 400,
          body: { error: `Send { "text": "…" } with 1 to ${LONGEST} characters.` },
        }
      }
      const via = `${options.id.toUpperCase()} · ${label}`
      try {
        const id = await channel().publish({ text, via, at: Date.now() })
        return { status: 201, body: { id, ...me } }
      } catch (error) {
        // The details (which command, why) are for the server's log, not for the client.
        console.error(error)
        return { status: 503, body: { error: 'The event could not be stored: try again.' } }
      }
    },
    /** Ends this process at once, as a crash would (the response goes out first). */
    crash(): void {
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 20)
    },
  }
}

function expressApp(demo: ReturnType<typeof createDemo>) {
  const events = expressSse({ retry: 1000 })
  const app = express()
  app.use(events)
  app.get('/', (_req, res) => res.type('html').send(page))
  app.get('/events', (_req, res) => demo.join(res.sse()))
  app.get('/whoami', (_req, res) => res.json(demo.me))
  app.post('/publish', express.json(), async (req, res) => {
    const { status, body } = await demo.publish(req.body)
    res.status(status).json(body)
  })
  app.post('/crash', (_req, res) => {
    res.status(202).json(demo.me)
    demo.crash()
  })
  return { handler: app, closeStreams: () => events.close({ retry: 500 }) }
}

function honoApp(demo: ReturnType<typeof createDemo>) {
  const events = honoSse({ retry: 1000 })
  const app = new Hono()
  app.use(events)
  app.get('/', (c) => c.html(page))
  app.get('/events', (c) => c.sse((stream) => demo.join(stream)))
  app.get('/whoami', (c) => c.json(demo.me))
  app.post('/publish', async (c) => {
    const { status, body } = await demo.publish(await c.req.json().catch(() => undefined))
    return c.json(body, status)
  })
  app.post('/crash', (c) => {
    demo.crash()
    return c.json(demo.me, 202)
  })
  return { handler: app, closeStreams: () => events.close({ retry: 500 }) }
}

/** Starts one instance; resolves once it listens. */
export async function start(options: InstanceOptions): Promise<RunningInstance> {
  const host = options.host ?? '127.0.0.1'
  const demo = createDemo(options)
  let server: Server
  let closeStreams: () => void
  if (options.framework === 'express') {
    const app = expressApp(demo)
    closeStreams = app.closeStreams
    server = app.handler.listen(options.port, host)
  } else {
    const app = honoApp(demo)
    closeStreams = app.closeStreams
    server = serve({ fetch: app.handler.fetch, port: options.port, hostname: host }) as Server
  }
  await new Promise<void>((resolve, reject) => {
    if (server.listening) resolve()
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host}:${port}`,
    server,
    async close() {
      closeStreams()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      demo.store.close()
    },
  }
}
