/**
 * Stopping: `close()`, an `AbortSignal`, or leaving a `for await` loop ends the request and
 * its body, clears every timer and removes every listener it added; `closed` says why.
 */
import { getEventListeners } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Cleanup, deferred, waitFor } from '../../core/src/test-utils/index.js'
import { connect, SseClientTypeError } from './index.js'
import { openStream, startRawServer } from './test-utils/apps.js'
import { fetchDouble } from './test-utils/fetch.js'

const cleanup = new Cleanup()
afterEach(async () => {
  vi.useRealTimers()
  await cleanup.run()
})

/** Active handles of this process by kind: timers, sockets. */
function resources(): { Timeout: number; TCPSocketWrap: number } {
  const out: Record<string, number | undefined> = {}
  for (const kind of process.getActiveResourcesInfo()) out[kind] = (out[kind] ?? 0) + 1
  return { Timeout: out.Timeout ?? 0, TCPSocketWrap: out.TCPSocketWrap ?? 0 }
}

/** Sockets of this process that are not the server's own. */
function clientSockets(server: { openSockets(): number }): number {
  return resources().TCPSocketWrap - server.openSockets()
}

/** A server that sends one event and keeps the stream open; resolves each request's end. */
async function holdingServer() {
  const ended: Promise<void>[] = []
  const server = cleanup.add(
    await startRawServer((req: IncomingMessage, res) => {
      const gone = deferred()
      ended.push(gone.promise)
      res.on('close', () => gone.resolve())
      openStream(res)
      res.write('id: 1\ndata: hello\n\n')
      void req
    }),
    (s) => s.close(),
  )
  return { server, ended }
}

describe('stopping', () => {
  it('close() mid-stream ends the request: the server sees it go; no timer, socket or listener is left', async () => {
    const { server, ended } = await holdingServer()
    const before = resources()
    const controller = new AbortController()
    const source = connect(server.url, { signal: controller.signal, idleTimeout: 60_000 })
    const first = deferred<string>()
    source.on('message', (m) => first.resolve(m.data))
    expect(await first.promise).toBe('hello')
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    expect(source.readyState).toBe('open')
    // What the count sees while it runs: its socket (and the server's) and its idle timer.
    const during = resources()
    expect(during.TCPSocketWrap).toBeGreaterThanOrEqual(before.TCPSocketWrap + 2)
    expect(during.Timeout).toBeGreaterThanOrEqual(before.Timeout + 1)

    source.close()
    expect(source.readyState).toBe('closed')
    expect(await source.closed).toEqual({ reason: 'closed' })
    await ended[0]
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    // The server may keep its half of the connection a while; the client's is gone.
    await waitFor(() => clientSockets(server) <= before.TCPSocketWrap)
    expect(resources().Timeout).toBeLessThanOrEqual(before.Timeout)
    expect(server.requests).toHaveLength(1)
  })

  it('an AbortSignal aborted mid-stream closes the source the same way', async () => {
    const { server, ended } = await holdingServer()
    const before = resources()
    const controller = new AbortController()
    const source = connect(server.url, { signal: controller.signal, idleTimeout: 60_000 })
    const first = deferred()
    source.on('message', () => first.resolve())
    await first.promise
    controller.abort()
    expect(await source.closed).toEqual({ reason: 'closed' })
    await ended[0]
    await waitFor(() => clientSockets(server) <= before.TCPSocketWrap)
    expect(resources().Timeout).toBeLessThanOrEqual(before.Timeout)
  })

  it('leaving a for await loop closes the source and ends its request', async () => {
    const { server, ended } = await holdingServer()
    const source = connect(server.url)
    for await (const message of source) {
      expect(message).toEqual({ event: 'message', data: 'hello', id: '1' })
      break
    }
    expect(await source.closed).toEqual({ reason: 'closed' })
    await ended[0]
    expect(server.requests).toHaveLength(1)
  })

  it('a signal aborted before connect() never fetches', async () => {
    const double = fetchDouble([])
    const source = connect('http://test.invalid/', {
      fetch: double.fetch,
      signal: AbortSignal.abort(),
    })
    expect(await source.closed).toEqual({ reason: 'closed' })
    expect(source.readyState).toBe('closed')
    expect(double.calls).toHaveLength(0)
  })

  it('close() while waiting to reconnect clears the timer (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const double = fetchDouble(() => ({ status: 503 }))
    const source = connect('http://test.invalid/', {
      fetch: double.fetch,
      reconnect: { delay: 5000 },
      idleTimeout: 30_000,
    })
    source.on('message', () => {})
    await vi.advanceTimersByTimeAsync(0)
    expect(double.calls).toHaveLength(1)
    expect(vi.getTimerCount()).toBe(1) // the wait before the reconnect
    source.close()
    expect(vi.getTimerCount()).toBe(0)
    expect(await source.closed).toEqual({ reason: 'closed' })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(double.calls).toHaveLength(1)
  })

  it('close() mid-stream cancels the body and clears the idle timer (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const double = fetchDouble([{ chunks: ['data: a\n\n'], hang: true }])
    const source = connect('http://test.invalid/', { fetch: double.fetch, idleTimeout: 30_000 })
    const got = deferred<string>()
    source.on('message', (m) => got.resolve(m.data))
    expect(await got.promise).toBe('a')
    expect(vi.getTimerCount()).toBe(1) // the idle timer
    expect(double.calls[0]!.body).toBe('open')
    source.close()
    expect(double.calls[0]!.body).toBe('aborted')
    expect(vi.getTimerCount()).toBe(0)
    expect(await source.closed).toEqual({ reason: 'closed' })
  })

  it('does not count a busy for await body as the server being idle (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const chunks = Array.from({ length: 200 }, (_, i) => `data: ${i}\n\n`)
    const double = fetchDouble([{ chunks, hang: true }])
    const source = connect('http://test.invalid/', {
      fetch: double.fetch,
      idleTimeout: 1000,
      reconnect: { delay: 0, maxDelay: 0 },
    })
    const iterator = source[Symbol.asyncIterator]()
    expect((await iterator.next()).value).toMatchObject({ data: '0' })
    await vi.advanceTimersByTimeAsync(5000) // the loop body is busy; the reader has paused
    for (let i = 1; i < 200; i++)
      expect((await iterator.next()).value).toMatchObject({ data: `${i}` })
    expect(double.calls).toHaveLength(1)
    expect(double.calls[0]!.body).toBe('open')
    await vi.advanceTimersByTimeAsync(1000) // now the server really is silent
    expect(double.calls[0]!.body).toBe('aborted')
    await vi.advanceTimersByTimeAsync(1) // the reconnect (delay 0)
    expect(double.calls).toHaveLength(2)
    source.close()
  })

  it('does not read the body until someone listens or iterates, so no event is missed', async () => {
    const double = fetchDouble([{ chunks: ['data: early\n\n'] }])
    const source = connect('http://test.invalid/', { fetch: double.fetch, reconnect: false })
    await waitFor(() => source.readyState === 'open')
    await new Promise((resolve) => setImmediate(resolve))
    const got: string[] = []
    for await (const m of source) got.push(m.data)
    expect(got).toEqual(['early'])
  })

  it('after it stops, `closed` resolves once and later iterators end at once', async () => {
    const double = fetchDouble([{ status: 204 }])
    const source = connect('http://test.invalid/', { fetch: double.fetch })
    source.on('message', () => {})
    expect(await source.closed).toEqual({ reason: 'done' })
    expect(await source[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined })
    source.close()
    expect(await source.closed).toEqual({ reason: 'done' })
  })
})

describe('options', () => {
  it.each([
    [
      { reconnect: { delay: -1 } },
      'option "reconnect.delay" must be a number of ms, 0 or more; received -1.',
    ],
    [
      { reconnect: { dleay: 1 } },
      'unknown reconnect option "dleay"; the options are delay, maxDelay, maxAttempts, maxElapsed.',
    ],
    [{ retyr: 1 }, 'unknown option "retyr"'],
    [
      { method: 'GET', body: 'x' },
      'option "method" must be a method that carries a body (a GET cannot); received "GET".',
    ],
    [{ body: 'x', json: {} }, 'give "body" or "json", not both.'],
    [
      { body: new ReadableStream() },
      'option "body" must be a string, URLSearchParams, FormData, Blob, ArrayBuffer or a typed array',
    ],
    [
      { share: true, body: new Blob(['x']) },
      'option "body" must be a string, URLSearchParams or json with share: true',
    ],
    [
      { maxEventLength: 0 },
      'option "maxEventLength" must be a number of characters, 1 or more (or Infinity); received 0.',
    ],
    [
      { idleTimeout: 0 },
      'option "idleTimeout" must be a number of ms, more than 0 (or false); received 0.',
    ],
    [
      { events: { a: 'xml' } },
      'option "events.a" must be \'text\', \'json\' or a function (text) => data; received "xml".',
    ],
  ])('throws an SseClientTypeError naming the option: %j', (options, message) => {
    let error: unknown
    try {
      connect('http://test.invalid/', options as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(SseClientTypeError)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_SSE_INVALID_OPTION' })
    expect((error as Error).message).toContain(`@ssekit/client: ${message}`)
  })

  it('does not change the options it was given', () => {
    const headers = { authorization: 'x' }
    const options = { headers, reconnect: { delay: 5 }, json: { a: 1 } }
    const copy = structuredClone(options)
    connect('http://test.invalid/', { ...options, fetch: fetchDouble([]).fetch }).close()
    expect(options).toEqual(copy)
  })
})
