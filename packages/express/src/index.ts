/**
 * @module @ssekit/express
 * Server-Sent Events for Express 4 and 5. `app.use(sse(options))` (or on a router or a
 * single route) adds `res.sse(options?)`, which opens an {@link EventStream}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  type EventStream,
  openNodeStream,
  type ResolvedOptions,
  type RetryOption,
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
      sse(options?: StreamOptions<SseRequest>): EventStream
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
  const middleware = ((req, res, next) => {
    ;(res as unknown as Express.Response).sse = (perCall) =>
      openNodeStream(req, res, {
        options: perCall === undefined ? base : resolveOptions(perCall as StreamOptions, base),
        context: req,
        group: streams,
      })
    next()
  }) as SseMiddleware
  Object.defineProperty(middleware, 'streams', { value: streams })
  middleware.close = (closeOptions) => streams.close(closeOptions)
  return middleware
}

export type { EventStream, StreamOptions } from '@ssekit/core'
