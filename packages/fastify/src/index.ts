/**
 * @module @ssekit/fastify
 * Server-Sent Events for Fastify 5. `await app.register(sse, options)` decorates
 * `reply.sse(options?)`, which takes the response over and opens an {@link EventStream}.
 */
import {
  type AnyEvents,
  checkResponseFree,
  checkRetry,
  type EventMap,
  type EventStream,
  lastEventIdFrom,
  openNodeStream,
  type ResolvedOptions,
  type RetryOption,
  rateLimited,
  resolveOptions,
  StreamGroup,
  type StreamOptions,
  streamOf,
} from '@ssekit/core'
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'

/** Options of the plugin: the stream options, plus how `app.close()` ends streams. */
export interface SseFastifyOptions extends StreamOptions<FastifyRequest> {
  /**
   * Reconnection delay hinted to clients whose streams `app.close()` ends, picked at random
   * within it so that they come back spread out.
   * @default { ms: 1000, jitter: 9000 }
   */
  shutdownRetry?: RetryOption
}

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Takes the response over (Fastify will not send one) and opens a Server-Sent Events
     * stream. `options` override the plugin's; `authorize` receives the request.
     */
    sse<M extends EventMap = AnyEvents>(options?: StreamOptions<FastifyRequest, M>): EventStream<M>
  }
  interface FastifyInstance {
    /** Streams opened through this instance and still open. */
    readonly sseStreams: StreamGroup
  }
}

const kStream = Symbol('ssekit.stream')
type ReplyWithStream = FastifyReply & { [kStream]?: EventStream }

const plugin: FastifyPluginCallback<SseFastifyOptions> = (fastify, pluginOptions, done) => {
  const { shutdownRetry, ...streamOptions } = pluginOptions
  // Fastify passes its own keys (prefix, logLevel) along with the user's: drop them.
  const ownKeys = streamOptions as Record<string, unknown>
  for (const key of ['prefix', 'logLevel', 'logSerializers']) delete ownKeys[key]
  let base: ResolvedOptions
  let shutdown: { retry?: RetryOption }
  try {
    base = resolveOptions(streamOptions as StreamOptions) as ResolvedOptions
    // Checked now like the others: a bad one found only at app.close() would hang it.
    shutdown =
      shutdownRetry === undefined ? {} : { retry: checkRetry('shutdownRetry', shutdownRetry) }
  } catch (error) {
    // avvio does not catch a throw from a callback plugin (it would crash the process):
    // hand it to done(), so that register() rejects with it.
    done(error as Error)
    return
  }
  const streams = new StreamGroup()
  fastify.decorate('sseStreams', streams)
  fastify.decorate(kQuery as unknown as string, base.lastEventIdQuery as never)
  // A cut-off slow client is a warning in the app's log, at most one per 10 s.
  const warn = rateLimited((error) => fastify.log.warn({ err: error }, error.message))

  fastify.decorateReply(
    'sse',
    // Typed by the declaration above; the event map is a matter of types only.
    function sse(this: ReplyWithStream, options?: StreamOptions<FastifyRequest>) {
      const raw = this.raw
      // Asked again: the same stream. After reply.send(): the error every adapter gives,
      // before anything touches the response.
      const existing = streamOf(raw)
      if (existing !== undefined) return existing
      checkResponseFree(raw, this.sent)
      const resolved = options === undefined ? base : resolveOptions(options as StreamOptions, base)
      // Headers set with reply.header() (by @fastify/cors, say) live on the reply, not on
      // the raw response that the stream writes: carry them over before taking over.
      const headers = this.getHeaders()
      for (const name in headers) {
        const value = headers[name]
        if (value !== undefined && !raw.hasHeader(name)) raw.setHeader(name, value as string)
      }
      this.hijack()
      const stream = openNodeStream(this.request.raw, raw, {
        options: resolved,
        context: this.request,
        group: streams,
        warn,
      })
      this[kStream] = stream
      return stream
    } as never,
  )

  // A handler that fails after reply.sse() cannot be answered by Fastify (the reply is
  // hijacked): end its stream here, with a 500 if nothing was sent yet, so that the client
  // is not left waiting. Fastify logs a rejection itself; a synchronous throw it would only
  // turn into a "Reply was already sent" warning, so that one is logged here.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const handler = route.handler
    route.handler = function sseHandler(this: unknown, request, reply) {
      let result: unknown
      try {
        result = handler.call(this as never, request, reply)
      } catch (error) {
        const stream = (reply as ReplyWithStream)[kStream]
        if (stream === undefined) throw error
        stream._fail()
        request.log.error({ err: error }, '@ssekit/fastify: the handler threw after reply.sse()')
        return undefined
      }
      if (isThenable(result)) {
        return result.then(undefined, (error: unknown) => {
          const stream = (reply as ReplyWithStream)[kStream]
          if (stream !== undefined) stream._fail()
          throw error
        })
      }
      return result
    } as typeof handler
  })

  // End streams before the server waits for its connections, or close() would hang.
  fastify.addHook('preClose', (hookDone) => {
    streams.close(shutdown)
    hookDone()
  })
  done()
}

function isThenable(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

const kQuery = Symbol('ssekit.lastEventIdQuery')

/**
 * The Last-Event-ID of a request, validated as `stream.lastEventId` is: the header, else
 * the plugin's `lastEventIdQuery` parameter. `undefined` when absent or unusable. Read it
 * before `reply.sse()` to answer without a stream, for example 204 for a job that has
 * finished since, so that a browser `EventSource` stops reconnecting.
 *
 * @example
 * app.get('/jobs/:id/events', (request, reply) => {
 *   const job = jobs.get(request.params.id)
 *   if (job?.done && lastEventId(request) === job.lastEventId) return reply.code(204).send()
 *   const stream = reply.sse()
 *   // ...
 * })
 */
export function lastEventId(request: FastifyRequest): string | undefined {
  const query = (request.server as unknown as { [kQuery]?: string | false })[kQuery]
  return lastEventIdFrom(request.headers['last-event-id'], request.url, query ?? false)
}

/**
 * The plugin. Register it once, on the root instance or in a scope.
 *
 * @example
 * import Fastify from 'fastify'
 * import sse from '@ssekit/fastify'
 *
 * const app = Fastify()
 * await app.register(sse, { heartbeat: 15_000 })
 * app.get('/events', (request, reply) => {
 *   const stream = reply.sse()
 *   stream.send({ event: 'hello', data: { at: Date.now() } })
 * })
 */
export const sse = fp(plugin, { fastify: '5.x', name: '@ssekit/fastify' })
export default sse

export type { EventStream, StreamOptions } from '@ssekit/core'
