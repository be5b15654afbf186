/**
 * @module @ssekit/express
 * Server-Sent Events for Express 4 and 5. `app.use(sse(options))` (or on a router or a
 * single route) adds `res.sse(options?)`, which opens an {@link EventStream}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  type AnyEvents,
  type EventMap,
  type EventStream,
  lastEventIdFrom,
  openNodeStream,
  type ResolvedOptions,
  type RetryOption,
  rateLimited,
  reportUnhandled,
  resolveOptions,
  StreamGroup,
  type StreamOptions,
} from '@ssekit/core'

declare global {
  namespace Express {
    // Declared here too so that these types stand without @types/express; they merge.
    interface Request {}
    interface Response {
      /**
       * Opens a Server-Sent Events stream on this response. `options` override the ones
       * given to `sse()`; `authorize` receives the request.
       */
      sse<M extends EventMap = AnyEvents>(options?: StreamOptions<SseRequest, M>): EventStream<M>
    }
  }
}

/**
 * What `authorize` receives: the request. `Express.Request` alone is only the augmentation
 * point (where `req.user` and the like are declared), without the request's own members.
 */
export type SseRequest = IncomingMessage & Express.Request

/** The middleware `sse()` returns, with a handle on the streams it opened. */
export interface SseMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void
  /** Streams opened through this middleware and still open. */
  readonly streams: StreamGroup
  /**
   * Ends every stream opened through this middleware, each with a jittered `retry:` hint;
   * call it on shutdown, next to `server.close()`.
   */
  close(options?: { retry?: RetryOption }): void
}

/**
 * Adds `res.sse()` to every response that passes through. Options are validated here, at
 * registration, and are the defaults of every `res.sse()`.
 *
 * @example
 * import express from 'express'
 * import { sse } from '@ssekit/express'
 *
 * const app = express()
 * app.use(sse({ heartbeat: 15_000 }))
 * app.get('/events', (req, res) => {
 *   const stream = res.sse()
 *   const timer = setInterval(() => stream.send({ event: 'tick', data: Date.now() }), 1000)
 *   stream.onClose(() => clearInterval(timer))
 * })
 */
export function sse(options?: StreamOptions<SseRequest>): SseMiddleware {
  const base = resolveOptions(options) as ResolvedOptions
  const streams = new StreamGroup()
  // Express has no logger: a cut-off slow client is a process warning, at most one per 10 s.
  const warn = rateLimited(reportUnhandled)
  const query = base.lastEventIdQuery
  const middleware = ((req, res, next) => {
    if (query !== false) (req as QueryAware)[kQuery] = query
    ;(res as unknown as { sse: (perCall?: StreamOptions) => EventStream }).sse = (perCall) =>
      openNodeStream(req, res, {
        options: perCall === undefined ? base : resolveOptions(perCall as StreamOptions, base),
        context: req,
        group: streams,
        warn,
      })
    next()
  }) as SseMiddleware
  Object.defineProperty(middleware, 'streams', { value: streams })
  middleware.close = (closeOptions) => streams.close(closeOptions)
  return middleware
}

const kQuery = Symbol('ssekit.lastEventIdQuery')
type QueryAware = IncomingMessage & { [kQuery]?: string }

/**
 * The Last-Event-ID of a request, validated as `stream.lastEventId` is: the header, else
 * the `lastEventIdQuery` parameter given to `sse()`. `undefined` when absent or unusable.
 * Read it before `res.sse()` to answer without a stream, for example 204 for a job that has
 * finished since, so that a browser `EventSource` stops reconnecting.
 *
 * @example
 * app.get('/jobs/:id/events', (req, res) => {
 *   const job = jobs.get(req.params.id)
 *   if (job?.done && lastEventId(req) === job.lastEventId) return res.status(204).end()
 *   const stream = res.sse()
 *   // ...
 * })
 */
export function lastEventId(req: IncomingMessage): string | undefined {
  return lastEventIdFrom(req.headers['last-event-id'], req.url, (req as QueryAware)[kQuery])
}

export type { EventStream, StreamOptions } from '@ssekit/core'
