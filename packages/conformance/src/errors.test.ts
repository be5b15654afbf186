/**
 * Errors thrown by a route handler: the stream ends cleanly (or the request is answered
 * 500 when nothing was sent yet), the server stays up, and the error reaches the
 * framework's own error handling. What each adapter does:
 *
 * - Express 4 and 5: the error goes to the app's error middleware (`next(err)`: Express 5
 *   does it for a rejected promise, Express 4 users pass it on themselves). Thrown before
 *   the stream opened, the middleware answers (500 here) and the stream ends unsent;
 *   thrown after, the middleware sees `res.headersSent` and, as Express documents, passes
 *   the error on to Express's default handler, which closes the connection: the client has
 *   every event sent, then sees the connection end abruptly rather than a clean end. No
 *   hook lets the adapter end the stream first.
 * - Fastify: thrown synchronously before the stream opened, the adapter answers 500 and
 *   logs the error with `request.log`; thrown (rejected) later, the adapter ends the stream
 *   and Fastify logs the rejection ("Promise errored, but reply.sent = true was set").
 * - Hono: thrown before the stream opened, `c.sse()` rejects and `app.onError` answers;
 *   thrown after, the stream ends and the error goes to the `onError` option (the response
 *   has started, so `app.onError` can no longer answer).
 */
import type { EventStream } from '@ssekit/core'
import { describe, expect, it } from 'vitest'
import { deferred, tick, waitFor } from '../../core/src/test-utils/index.js'
import { type Adapter, adapters, type RunningApp } from './adapters.js'
import { useHarness } from './support/harness.js'

type Family = 'express' | 'fastify' | 'hono'
const family = (adapter: Adapter): Family => adapter.name.split(' ')[0] as Family

/** The message of an error as the framework recorded it (Fastify logs a serialized one). */
function messages(app: RunningApp): string[] {
  return app.errors.map((e) => (e as { message?: string }).message ?? String(e))
}

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  async function stillServes(app: RunningApp) {
    const { response, reader } = await h.fetchSse(`${app.url}/ok`)
    expect(response.status).toBe(200)
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: fine\n\n`)
  }

  const ok = {
    method: 'GET' as const,
    path: '/ok',
    options: { heartbeat: false as const },
    handler: async (stream: EventStream) => {
      await stream.send('fine')
      stream.close()
    },
  }

  it('answers 500 and reports the error when the handler throws before the stream opened', async () => {
    const onError: unknown[] = []
    const opened = deferred<EventStream>()
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/boom',
        options: { heartbeat: false, onError: (error) => onError.push(error) },
        handler: (stream) => {
          opened.resolve(stream)
          throw new Error('thrown before the stream opened')
        },
      },
      ok,
    ])
    const response = await fetch(`${app.url}/boom`)
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).not.toBe('text/event-stream; charset=utf-8')
    // Fastify's reply is hijacked, so core answers; elsewhere the app's error handler does.
    // Never with the error's message.
    expect(await response.text()).toBe(
      family(adapter) === 'fastify' ? 'Internal Server Error' : 'error',
    )
    const stream = await opened.promise
    await waitFor(() => stream.closed, 2000, 'the stream being closed')
    expect(app.openStreams()).toBe(0)
    await waitFor(() => app.errors.length > 0, 2000, 'the error being reported')
    // Express: the error middleware; Fastify: its logger; Hono: app.onError.
    expect(messages(app)).toEqual(['thrown before the stream opened'])
    expect(onError).toEqual([])
    await stillServes(app)
  })

  it('ends the stream cleanly and reports the error when the handler throws after sending', async () => {
    const onError: unknown[] = []
    const opened = deferred<EventStream>()
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/boom',
        options: { heartbeat: false, onError: (error) => onError.push(error) },
        handler: async (stream) => {
          opened.resolve(stream)
          await stream.send('one')
          await tick()
          throw new Error('thrown after an event')
        },
      },
      ok,
    ])
    const { response, reader } = await h.fetchSse(`${app.url}/boom`)
    expect(response.status).toBe(200)
    const text = await reader.readToEnd()
    expect(text).toBe(`${adapter.preamble}data: one\n\n`)
    expect(reader.done).toBe(true)
    if (family(adapter) === 'express') {
      // Express's documented way: an error middleware passes an error it cannot answer on to
      // the default handler (`if (res.headersSent) return next(err)`), which closes the
      // connection: the client has every event, then sees the connection end, not a clean end.
      expect((reader.error as Error | undefined)?.message).toBe('terminated')
    } else {
      expect(reader.error).toBe(undefined)
    }
    const stream = await opened.promise
    await waitFor(() => stream.closed, 2000, 'the stream being closed')
    expect(app.openStreams()).toBe(0)
    await waitFor(
      () => app.errors.length > 0 || onError.length > 0,
      2000,
      'the error being reported',
    )
    if (family(adapter) === 'hono') {
      expect(onError.map((e) => (e as Error).message)).toEqual(['thrown after an event'])
      expect(app.errors).toEqual([])
    } else {
      expect(messages(app)).toEqual(['thrown after an event'])
      expect(onError).toEqual([])
    }
    await stillServes(app)
  })
})
