/**
 * @module @ssekit/hono
 * Server-Sent Events for Hono. `app.use(sse(options))` gives `c.sse(handler)` (and
 * `c.var.sse`, typed through {@link SseEnv}); `sseRoute(handler, options?)` is a route
 * handler on its own. On Node (`@hono/node-server`) streams are written to the Node
 * response directly; elsewhere (Bun, Deno, Workers) they are a Web `Response` body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  type AnyEvents,
  checkResponseFree,
  type EventMap,
  type EventStream,
  lastEventIdFrom,
  openNodeStream,
  openWebStream,
  type ResolvedOptions,
  type RetryOption,
  rateLimited,
  reportUnhandled,
  resolveOptions,
  runHandler,
  StreamGroup,
  type StreamOptions,
  streamOf,
} from '@ssekit/core'
import type { Context, Env, Handler, Input, MiddlewareHandler } from 'hono'

/** Fills a stream. It stays open after the handler returns, until `stream.close()` or the client leaves. */
// biome-ignore lint/suspicious/noExplicitAny: any Env, as Hono's own Handler defaults to
export type SseHandler<E extends Env = any, M extends EventMap = AnyEvents> = (
  stream: EventStream<M>,
  c: Context<E>,
) => void | Promise<void>

/**
 * `c.sse(handler, options?)`: opens a stream, runs `handler`, resolves to the `Response`.
 * `c.sse<Events>(…)` types the stream by an event map.
 */
export type SseFunction = <M extends EventMap = AnyEvents>(
  handler: SseHandler<Env, M>,
  options?: StreamOptions<Context, M>,
) => Promise<Response>

/** Env of apps that use `sse()`: `c.var.sse` is then typed, the way Hono types middleware variables. */
export type SseEnv = { Variables: { sse: SseFunction } }

declare module 'hono' {
  // Must repeat Context's own type parameters (defaults included) to merge with it.
  // biome-ignore lint/suspicious/noExplicitAny: as Hono declares them
  // biome-ignore lint/complexity/noBannedTypes: as Hono declares them
  interface Context<E extends Env = any, P extends string = any, I extends Input = {}> {
    /** Added by `app.use(sse())`: opens a Server-Sent Events stream and runs `handler` with it. */
    sse: SseFunction
  }
}

/** The middleware `sse()` returns, with a handle on the streams it opened. */
export type SseMiddleware = MiddlewareHandler<SseEnv> & {
  /** Streams opened through this middleware and still open. */
  readonly streams: StreamGroup
  /** Ends every stream opened through it, with a jittered `retry:` hint (for shutdown). */
  close(options?: { retry?: RetryOption }): void
}

/**
 * Middleware that adds `c.sse(handler, options?)` (and `c.var.sse`). Options are
 * validated here and are the defaults of every call; `authorize` receives the context.
 *
 * @example
 * const app = new Hono()
 * app.use('/events/*', sse({ heartbeat: 15_000 }))
 * app.get('/events/clock', (c) =>
 *   c.sse(async (stream) => {
 *     while (!stream.closed) {
 *       await stream.send({ event: 'tick', data: new Date().toISOString() })
 *       await new Promise((r) => setTimeout(r, 1000))
 *     }
 *   }),
 * )
 */
export function sse(options?: StreamOptions<Context>): SseMiddleware {
  const base = resolveOptions(options) as ResolvedOptions
  const at = { streams: new StreamGroup(), warn: rateLimited(reportUnhandled) }
  const query = base.lastEventIdQuery
  const middleware = (async (c, next) => {
    const fn: SseFunction = (handler, perCall) =>
      openStream(
        c,
        handler,
        perCall === undefined ? base : resolveOptions(perCall as StreamOptions, base),
        at,
      )
    if (query !== false) (c as QueryAware)[kQuery] = query
    c.set('sse', fn)
    ;(c as unknown as { sse: SseFunction }).sse = fn
    await next()
  }) as SseMiddleware
  Object.defineProperty(middleware, 'streams', { value: at.streams })
  middleware.close = (closeOptions) => at.streams.close(closeOptions)
  return middleware
}

/**
 * A route handler that answers with a stream, without the middleware.
 *
 * @example
 * app.get('/events', sseRoute(async (stream, c) => {
 *   await feed.subscribe(stream)
 * }, { retry: 5000 }))
 */
// biome-ignore lint/suspicious/noExplicitAny: any Env, as Hono's own Handler defaults to
export function sseRoute<E extends Env = any, M extends EventMap = AnyEvents>(
  handler: SseHandler<E, M>,
  options?: StreamOptions<Context<E>, M>,
): Handler<E> & { readonly streams: StreamGroup } {
  const resolved = resolveOptions(options as StreamOptions) as ResolvedOptions
  const at = { streams: new StreamGroup(), warn: rateLimited(reportUnhandled) }
  const route = ((c: Context<E>) =>
    openStream(c as Context, handler as SseHandler, resolved, at)) as unknown as Handler<E> & {
    readonly streams: StreamGroup
  }
  Object.defineProperty(route, 'streams', { value: at.streams })
  return route
}

/** The Node request and response, when Hono runs on `@hono/node-server` with its bindings. */
function nodeBindings(
  c: Context,
): { incoming: IncomingMessage; outgoing: ServerResponse } | undefined {
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined
  const outgoing = env?.outgoing
  if (env?.incoming === undefined || typeof outgoing?.writeHead !== 'function') return undefined
  return { incoming: env.incoming, outgoing }
}

// @hono/node-server writes nothing for a response carrying this header: it was answered.
const ALREADY_SENT = { 'x-hono-already-sent': 'true' }

let sent: Response | undefined

/**
 * The response that tells @hono/node-server the request was answered already. One for every
 * request: Hono copies a returned response before it adds headers (`c.res` was read), and
 * node-server only reads it. Made on first use, with node-server's global Response.
 */
function alreadySent(): Response {
  if (sent === undefined) {
    sent = new Response(null, { headers: ALREADY_SENT })
    // node-server's lightweight Response (its global Response) skips the already-sent check
    // and writes a head, which ends the stream; reading `body` turns it into a full one.
    void sent.body
  }
  return sent
}

/** Where the streams of one middleware (or route) belong, and where its warnings go. */
interface Owner {
  streams: StreamGroup
  warn: (error: Error) => void
}

function openStream(
  c: Context,
  // biome-ignore lint/suspicious/noExplicitAny: the event map is a matter of types only
  handler: SseHandler<any, any>,
  options: ResolvedOptions,
  owner: Owner,
): Promise<Response> {
  const run = (stream: EventStream) => handler(stream, c)
  const init = { options, context: c, group: owner.streams, warn: owner.warn }
  // Headers set earlier with c.header() (CORS, say) go on the stream's response too.
  const prepared = c.res.headers
  const node = nodeBindings(c)
  if (node === undefined) {
    // Bun, Deno, Workers. On Bun, c.env is the server: the stream's request is exempted from
    // its idle timeout (10 s by default, shorter than the heartbeat).
    return openWebStream(c.req.raw, run, { ...init, server: c.env, rejectEarly: true }).then(
      (response) => {
        carryHeaders(
          prepared,
          (name, value) => response.headers.append(name, value),
          (name) => response.headers.has(name),
        )
        return response
      },
    )
  }
  // On Node, write to the Node response itself (the fast path). Asked again: the same
  // stream and response; after something else answered, the error, before anything touches
  // the response.
  const { incoming, outgoing } = node
  const existing = streamOf(outgoing)
  if (existing !== undefined) {
    runHandler(existing, run, { options })
    // Until it starts, the first call's answer; after, the one it gave.
    return responses.get(existing) ?? Promise.resolve(alreadySent())
  }
  checkResponseFree(outgoing)
  carryHeaders(
    prepared,
    (name, value) => outgoing.appendHeader(name, value),
    (name) => outgoing.hasHeader(name),
  )
  const answer = settleOnce()
  const stream = openNodeStream(incoming, outgoing, { ...init, onStart: answer.started })
  responses.set(stream, answer.response)
  answer.settled = () => responses.delete(stream)
  runHandler(stream, run, { options, onEarlyError: answer.failed })
  return answer.response
}

/**
 * The answer of a stream opened on Node: resolves when its head is written, rejects on an
 * early handler error. Made outside `openStream`, so that what it keeps until the stream
 * ends holds no reference to the request's context.
 */
function settleOnce() {
  let resolve!: (response: Response) => void
  let reject!: (error: unknown) => void
  const response = new Promise<Response>((res, rej) => {
    resolve = res
    reject = rej
  })
  const answer = {
    response,
    settled: undefined as (() => void) | undefined,
    started: () => {
      answer.settled?.()
      resolve(alreadySent())
    },
    failed: (error: unknown) => {
      answer.settled?.()
      reject(error)
    },
  }
  return answer
}

/**
 * The pending answer of each stream opened on Node, for a second c.sse() on the same
 * request before it started; dropped once it settles (it holds a Response).
 */
const responses = new WeakMap<EventStream, Promise<Response>>()

const kQuery = Symbol('ssekit.lastEventIdQuery')
type QueryAware = Context & { [kQuery]?: string }

/**
 * The Last-Event-ID of a request, validated as `stream.lastEventId` is: the header, else
 * the `lastEventIdQuery` parameter given to `sse()`. `undefined` when absent or unusable.
 * Read it before `c.sse()` to answer without a stream, for example 204 for a job that has
 * finished since, so that a browser `EventSource` stops reconnecting.
 *
 * @example
 * app.get('/jobs/:id/events', (c) => {
 *   const job = jobs.get(c.req.param('id'))
 *   if (job?.done && lastEventId(c) === job.lastEventId) return c.body(null, 204)
 *   return c.sse((stream) => job?.follow(stream))
 * })
 */
export function lastEventId(c: Context): string | undefined {
  return lastEventIdFrom(c.req.header('last-event-id'), c.req.url, (c as QueryAware)[kQuery])
}

export type { EventStream, StreamOptions } from '@ssekit/core'

/** Copies headers not already set, every value of repeated ones (Set-Cookie), but Content-Type. */
function carryHeaders(
  from: Headers,
  append: (name: string, value: string) => void,
  has: (name: string) => boolean,
): void {
  const skip = new Set<string>()
  for (const [name] of from) if (has(name)) skip.add(name)
  for (const [name, value] of from) {
    if (name === 'content-type' || skip.has(name) || name === 'set-cookie') continue
    append(name, value)
  }
  if (!skip.has('set-cookie'))
    for (const cookie of from.getSetCookie()) append('set-cookie', cookie)
}
