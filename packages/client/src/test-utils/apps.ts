/**
 * Real servers for the client's tests: the AI-answer app written with each adapter (a POST
 * that starts a named log with `produce()` and answers with `Content-Location`, a GET that
 * replays it), and a raw `node:http` server for answers no adapter would write.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { serve } from '@hono/node-server'
import { createChannel, type EventStore, MemoryEventStore } from '@ssekit/core'
import { sse as expressSse } from '@ssekit/express'
import fastifySse from '@ssekit/fastify'
import { sse as honoSse } from '@ssekit/hono'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'

/** The map both ends use. */
export type Answer = {
  token: string
  done: { usage: number }
  error: { reason: 'failed' | 'cancelled' }
}

export interface AnswerApp {
  url: string
  /** Requests seen, by method and path: `POST /answers`, `GET /answers/1`. */
  requests: string[]
  /** The Last-Event-ID of each request ('' when none), in order. */
  lastEventIds: string[]
  /** Lets `n` more tokens of the answer out. */
  release(n: number): void
  /** Destroys every open socket: the network drops mid-answer. */
  dropConnections(): void
  close(): Promise<void>
}

export type Framework = 'express' | 'fastify' | 'hono'

/** Tokens the producer publishes one by one, each when the test releases it. */
class Gate {
  #allowed = 0
  #waiters: (() => void)[] = []
  release(n: number) {
    this.#allowed += n
    for (const wake of this.#waiters.splice(0)) wake()
  }
  async pass(): Promise<void> {
    while (this.#allowed === 0) await new Promise<void>((r) => this.#waiters.push(r))
    this.#allowed--
  }
}

/**
 * The AI-answer pattern of the core README: `POST /answers` creates `answer:<id>`, runs its
 * producer with `produce()`, and answers with the log from the start and a Content-Location;
 * `GET /answers/:id` replays and follows it (404 for an unknown one).
 */
export async function startAnswerApp(framework: Framework, tokens: string[]): Promise<AnswerApp> {
  const store: EventStore = new MemoryEventStore({ endedTtlMs: 60_000 })
  const gate = new Gate()
  const requests: string[] = []
  const lastEventIds: string[] = []
  let next = 0
  const channel = (id: string) => createChannel<Answer>({ name: `answer:${id}`, store })

  async function start(): Promise<string> {
    const id = String(++next)
    const answer = channel(id)
    await answer.produce(async () => {
      for (const token of tokens) {
        await gate.pass()
        await answer.publish({ event: 'token', data: token })
      }
      return { event: 'done', data: { usage: tokens.length } }
    })
    return id
  }
  const note = (method: string, path: string, lastEventId: string | undefined) => {
    requests.push(`${method} ${path}`)
    lastEventIds.push(lastEventId ?? '')
  }
  const headerOf = (value: string | string[] | undefined) =>
    Array.isArray(value) ? value[0] : value

  let server: Server
  let shutdown: () => Promise<void>
  if (framework === 'express') {
    const app = express()
    const middleware = expressSse({ heartbeat: false })
    app.use(middleware)
    app.use((req, _res, next) => {
      note(req.method, req.path, headerOf(req.headers['last-event-id']))
      next()
    })
    app.post('/answers', express.json(), async (_req, res) => {
      const id = await start()
      const stream = res.sse<Answer>({ headers: { 'content-location': `/answers/${id}` } })
      await channel(id).subscribe(stream, { from: 'start' })
    })
    app.get('/answers/:id', async (req, res) => {
      const answer = channel(req.params.id)
      if (!(await answer.exists())) {
        res.status(404).end()
        return
      }
      await answer.subscribe(res.sse<Answer>(), { from: 'start' })
    })
    server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    shutdown = async () => {
      middleware.close()
      await new Promise((resolve) => server.close(resolve))
    }
  } else if (framework === 'fastify') {
    const app = Fastify()
    await app.register(fastifySse, { heartbeat: false })
    app.addHook('onRequest', async (request) => {
      note(request.method, request.url, headerOf(request.headers['last-event-id']))
    })
    app.post('/answers', async (_request, reply) => {
      const id = await start()
      const stream = reply.sse<Answer>({ headers: { 'content-location': `/answers/${id}` } })
      await channel(id).subscribe(stream, { from: 'start' })
    })
    app.get<{ Params: { id: string } }>('/answers/:id', async (request, reply) => {
      const answer = channel(request.params.id)
      if (!(await answer.exists())) return reply.code(404).send()
      await answer.subscribe(reply.sse<Answer>(), { from: 'start' })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    server = app.server
    shutdown = () => app.close()
  } else {
    const app = new Hono()
    const middleware = honoSse({ heartbeat: false })
    app.use(async (c, next) => {
      note(c.req.method, c.req.path, c.req.header('last-event-id'))
      await next()
    })
    app.use(middleware)
    app.post('/answers', async (c) => {
      await c.req.json()
      const id = await start()
      return c.sse<Answer>(
        async (stream) => {
          await channel(id).subscribe(stream, { from: 'start' })
        },
        { headers: { 'content-location': `/answers/${id}` } },
      )
    })
    app.get('/answers/:id', async (c) => {
      const answer = channel(c.req.param('id'))
      if (!(await answer.exists())) return c.body(null, 404)
      return c.sse<Answer>(async (stream) => {
        await answer.subscribe(stream, { from: 'start' })
      })
    })
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
        resolve(s as Server),
      )
    })
    shutdown = async () => {
      middleware.close()
      await new Promise((resolve) => server.close(resolve))
    }
  }
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    lastEventIds,
    release: (n) => gate.release(n),
    dropConnections: () => {
      for (const socket of sockets) socket.destroy()
    },
    close: async () => {
      gate.release(tokens.length)
      for (const socket of sockets) socket.destroy()
      await shutdown()
    },
  }
}

export interface RawServer {
  url: string
  /** Requests seen, in order, with their Last-Event-ID header. */
  requests: { method: string; url: string; lastEventId: string | undefined }[]
  /** Server-side sockets still open. */
  openSockets(): number
  /** Resolves when the server has seen `n` requests. */
  requestCount(n: number): Promise<void>
  close(): Promise<void>
}

/** A `node:http` server whose handler writes whatever a test needs, hostile bytes included. */
export async function startRawServer(
  handler: (req: IncomingMessage, res: ServerResponse, index: number) => void,
): Promise<RawServer> {
  const requests: RawServer['requests'] = []
  const waiters: { n: number; resolve: () => void }[] = []
  const server = http.createServer((req, res) => {
    const index = requests.length
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      lastEventId: req.headers['last-event-id'] as string | undefined,
    })
    for (const w of waiters.filter((w) => requests.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
    handler(req, res, index)
  })
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    openSockets: () => sockets.size,
    requestCount: (n) =>
      requests.length >= n
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ n, resolve })),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** The head of an event stream, written at once. */
export function openStream(res: ServerResponse, extra: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...extra,
  })
  res.flushHeaders()
}
