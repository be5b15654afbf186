/**
 * The adapter matrix: each entry starts a real server on a free loopback port with the
 * given routes, the way a user of that framework would write them. Every conformance test
 * runs against every entry.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import type { EventStream, RetryOption, StreamOptions } from '@ssekit/core'
import { lastEventId as expressLastEventId, sse as expressSse } from '@ssekit/express'
import fastifySse, { lastEventId as fastifyLastEventId } from '@ssekit/fastify'
import { lastEventId as honoLastEventId, sse as honoSse } from '@ssekit/hono'
import express5 from 'express'
import express4 from 'express4'
import Fastify from 'fastify'
import { Hono } from 'hono'

/** What a route handler gets besides the stream. */
export interface RouteRequest {
  /** The parsed JSON body of a POST, else undefined. */
  body: unknown
  /** The request headers, lower-cased names. */
  headers: Record<string, string | undefined>
  /** Opens a stream on the same response again, the framework's way (a mistake). */
  reopen(): unknown
}

export interface Route {
  method: 'GET' | 'POST'
  path: string
  /** Per-route stream options (the second layer over the app's). */
  options?: StreamOptions
  /** Headers the route sets the framework's way before it opens the stream (CORS, say). */
  headers?: Record<string, string>
  /**
   * Runs before the stream opens, with the request's Last-Event-ID read by the adapter's
   * own `lastEventId()`; a status it returns is answered, empty, instead of a stream.
   */
  before?: (lastEventId: string | undefined) => number | undefined
  /**
   * Fills the stream. Called synchronously right after the stream is created, so that a
   * synchronous throw happens before the stream has opened.
   */
  handler: (stream: EventStream, request: RouteRequest) => unknown
}

export interface RunningApp {
  /** `http://127.0.0.1:PORT` */
  url: string
  /** Errors that reached the framework's error handling or logger. */
  errors: unknown[]
  /** Shuts down as a user would on that framework (streams first, then the server). */
  close(options?: { retry?: RetryOption }): Promise<void>
  /** Open streams of this app. */
  openStreams(): number
  /** The listening node:http server (for tests that watch its connections). */
  server: Server
}

export interface Adapter {
  name: string
  /**
   * What the body starts with when the stream has no other preamble (no `padding`, no
   * `retry`): `':\n\n'` on the Web transport, which opens with a comment because a runtime
   * may send a streamed Response's headers with its first body bytes only (Bun does); `''`
   * where headers are flushed at open (the Node transport).
   */
  preamble: string
  start(routes: Route[], options?: StreamOptions): Promise<RunningApp>
}

function listenUrl(server: { address(): AddressInfo | string | null }): string {
  const address = server.address() as AddressInfo
  return `http://127.0.0.1:${address.port}`
}

function headersOf(raw: Record<string, string | string[] | undefined>): RouteRequest['headers'] {
  const out: RouteRequest['headers'] = {}
  for (const [k, v] of Object.entries(raw)) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

function expressAdapter(name: string, express: typeof express5, catchAsync: boolean): Adapter {
  return {
    name,
    preamble: '',
    async start(routes, options) {
      const app = express()
      const errors: unknown[] = []
      const middleware = expressSse(options)
      app.use(express.json())
      app.use(middleware)
      for (const route of routes) {
        const method = route.method === 'GET' ? 'get' : 'post'
        app[method](route.path, (req, res, next) => {
          for (const [name, value] of Object.entries(route.headers ?? {}))
            res.setHeader(name, value)
          const status = route.before?.(expressLastEventId(req))
          if (status !== undefined) {
            res.status(status).end()
            return
          }
          const stream = res.sse(route.options)
          const result = route.handler(stream, {
            body: req.body,
            headers: headersOf(req.headers),
            reopen: () => res.sse(),
          })
          // Express 4 does not catch rejected promises; its users pass them to next().
          if (catchAsync && result instanceof Promise) result.catch(next)
          return result
        })
      }
      app.use(
        (
          error: unknown,
          _req: express5.Request,
          res: express5.Response,
          next: express5.NextFunction,
        ) => {
          errors.push(error)
          if (res.headersSent) return next(error)
          res.status(500).send('error')
        },
      )
      const server = app.listen(0, '127.0.0.1')
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve)
        server.once('error', reject)
      })
      return {
        url: listenUrl(server),
        server,
        errors,
        openStreams: () => middleware.streams.size,
        async close(closeOptions) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()))
          middleware.close(closeOptions)
          await closed
        },
      }
    },
  }
}

function fastifyAdapter(): Adapter {
  return {
    name: 'fastify',
    preamble: '',
    async start(routes, options) {
      const errors: unknown[] = []
      const app = Fastify({
        logger: {
          level: 'error',
          stream: {
            write(line: string) {
              const entry = JSON.parse(line) as { err?: unknown; msg?: string }
              errors.push(entry.err ?? entry.msg)
            },
          },
        },
      })
      await app.register(fastifySse, options ?? {})
      for (const route of routes) {
        app.route({
          method: route.method,
          url: route.path,
          handler: (request, reply) => {
            reply.headers(route.headers ?? {})
            const status = route.before?.(fastifyLastEventId(request))
            if (status !== undefined) return reply.code(status).send()
            const stream = reply.sse(route.options)
            return route.handler(stream, {
              body: request.body,
              headers: headersOf(request.headers),
              reopen: () => reply.sse(),
            })
          },
        })
      }
      await app.listen({ port: 0, host: '127.0.0.1' })
      let retry: RetryOption | undefined
      return {
        url: listenUrl(app.server),
        server: app.server,
        errors,
        openStreams: () => app.sseStreams.size,
        async close(closeOptions) {
          retry = closeOptions?.retry
          if (retry !== undefined) app.sseStreams.close({ retry })
          await app.close()
        },
      }
    },
  }
}

function honoAdapter(name: string, bindings: boolean): Adapter {
  return {
    name,
    // Without the Node bindings the Web transport runs, and it opens the body with a comment.
    preamble: bindings ? '' : ':\n\n',
    async start(routes, options) {
      const errors: unknown[] = []
      const app = new Hono()
      const middleware = honoSse(options)
      app.use(middleware)
      for (const route of routes) {
        app.on(route.method, route.path, async (c) => {
          const body = route.method === 'POST' ? await c.req.json() : undefined
          const headers = Object.fromEntries(c.req.raw.headers)
          for (const [name, value] of Object.entries(route.headers ?? {})) c.header(name, value)
          const status = route.before?.(honoLastEventId(c))
          if (status !== undefined) return c.body(null, status as 204)
          return c.sse(
            (stream) =>
              route.handler(stream, {
                body,
                headers,
                reopen: () => c.sse(() => {}),
              }) as Promise<void>,
            route.options,
          )
        })
      }
      app.onError((error, c) => {
        errors.push(error)
        return c.text('error', 500)
      })
      // Without the Node bindings, the adapter cannot see the Node response and takes the
      // Web path (a Response body), as it would on Bun, Deno or Workers.
      const fetch = bindings ? app.fetch : (request: Request) => app.fetch(request)
      const server: ServerType = await new Promise((resolve) => {
        const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
      })
      return {
        url: listenUrl(server as unknown as { address(): AddressInfo }),
        server: server as Server,
        errors,
        openStreams: () => middleware.streams.size,
        async close(closeOptions) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()))
          middleware.close(closeOptions)
          await closed
        },
      }
    },
  }
}

export const adapters: Adapter[] = [
  expressAdapter('express 5', express5, false),
  expressAdapter('express 4', express4 as unknown as typeof express5, true),
  fastifyAdapter(),
  honoAdapter('hono (node transport)', true),
  honoAdapter('hono (web transport)', false),
]
