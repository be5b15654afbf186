import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { getMetrics } from './metrics.js'
import type { StreamOptions } from './options.js'
import type { EventStream } from './stream.js'
import { deferred, SseReader, tick, waitFor } from './test-utils/index.js'
import { createEventStreamResponse } from './transport-web.js'

const URL_ = 'http://localhost/events'

let opened: EventStream[] = []
afterEach(() => {
  for (const stream of opened) stream.close()
  opened = []
})

/** Opens a Web stream; resolves to the Response and the stream the handler received. */
async function open(
  options: StreamOptions<Request> = { heartbeat: false },
  handler: (stream: EventStream) => void | Promise<void> = () => {},
  init: RequestInit = {},
  url = URL_,
): Promise<{ response: Response; stream: EventStream }> {
  let stream!: EventStream
  const response = await createEventStreamResponse(
    new Request(url, init),
    (s) => {
      stream = s
      opened.push(s)
      return handler(s)
    },
    options,
  )
  return { response, stream }
}

function read(response: Response): SseReader {
  if (response.body === null) throw new Error('no body')
  return new SseReader(response.body)
}

describe('Web transport', () => {
  it('answers 200 with exactly the SSE headers, leaving Connection to the runtime', async () => {
    const { response } = await open()
    expect(response.status).toBe(200)
    expect([...response.headers]).toEqual([
      ['cache-control', 'no-cache, no-transform'],
      ['content-type', 'text/event-stream; charset=utf-8'],
      ['x-accel-buffering', 'no'],
    ])
  })

  it('resolves the Response before the first event is sent', async () => {
    const gate = deferred()
    const { response, stream } = await open({ heartbeat: false }, async (s) => {
      await gate.promise
      await s.send('late')
      s.close()
    })
    expect(response.status).toBe(200)
    expect(stream.closed).toBe(false)
    gate.resolve()
    expect(await response.text()).toBe(':\n\ndata: late\n\n')
  })

  it('writes exact frames into the body', async () => {
    const { response } = await open({ heartbeat: false, retry: 100, padding: 5 }, async (s) => {
      await s.send({ event: 'greet', id: 'a-1', data: 'hi\r\nthere' })
      await s.send({ n: 1 })
      await s.comment()
      s.close()
    })
    expect(await response.text()).toBe(
      `:  \n\nretry: 100\n\nevent: greet\nid: a-1\ndata: hi\ndata: there\n\ndata: {"n":1}\n\n:\n\n`,
    )
  })

  it('starts with a comment so that runtimes that hold headers until the first body bytes send them at open', async () => {
    // Bun sends a streamed Response's headers together with its first body bytes only, so
    // the body starts at open, before any event: a comment when there is no other preamble.
    const bare = await open({ heartbeat: false })
    const bareReader = read(bare.response)
    expect(await bareReader.waitForText(3)).toBe(':\n\n')
    bare.stream.close()
    expect(await bareReader.readToEnd()).toBe(':\n\n')
    // With a retry (or padding) preamble, that is the first bytes: no extra comment.
    const retry = await open({ heartbeat: false, retry: 1000 })
    const retryReader = read(retry.response)
    expect(await retryReader.waitForText(13)).toBe('retry: 1000\n\n')
    retry.stream.close()
    expect(await retryReader.readToEnd()).toBe('retry: 1000\n\n')
  })

  it('adds the headers option, keeps every Set-Cookie, and cannot replace Content-Type', async () => {
    const { response } = await open({
      heartbeat: false,
      headers: { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/html', 'x-trace': 't' },
    })
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('x-trace')).toBe('t')
  })

  it('reads Last-Event-ID from the header, else from lastEventIdQuery', async () => {
    const options = { heartbeat: false, lastEventIdQuery: 'last' } as const
    expect(
      (await open(options, undefined, { headers: { 'last-event-id': 'h-1' } })).stream.lastEventId,
    ).toBe('h-1')
    expect((await open(options, undefined, {}, `${URL_}?last=q-2`)).stream.lastEventId).toBe('q-2')
    expect(
      (await open({ heartbeat: false }, undefined, {}, `${URL_}?last=q-2`)).stream.lastEventId,
    ).toBe(undefined)
  })

  it('treats cancelling the body as a client disconnect', async () => {
    const onClose = vi.fn()
    const before = getMetrics().openStreams
    const { response, stream } = await open({ heartbeat: false }, (s) => {
      s.onClose(onClose)
    })
    const reader = read(response)
    await stream.send('one')
    await reader.waitForEvents(1)
    expect(getMetrics().openStreams).toBe(before + 1)
    await reader.cancel()
    expect(stream.closed).toBe(true)
    expect(stream.signal.aborted).toBe(true)
    expect(onClose).toHaveBeenCalledTimes(1)
    expect(getMetrics().openStreams).toBe(before)
    await expect(stream.send('after')).resolves.toBe(false)
  })

  it("treats an abort of the request's signal as a client disconnect", async () => {
    const controller = new AbortController()
    const onClose = vi.fn()
    const { response, stream } = await open({ heartbeat: false }, (s) => void s.onClose(onClose), {
      signal: controller.signal,
    })
    const reader = read(response)
    await stream.send('one')
    await reader.waitForEvents(1)
    controller.abort()
    expect(stream.closed).toBe(true)
    expect(stream.signal.aborted).toBe(true)
    expect(onClose).toHaveBeenCalledTimes(1)
    // The body ends quietly (a runtime logs body errors); the runtime lets go of the rest.
    await reader.finished
    expect(reader.done).toBe(true)
    expect(reader.error).toBeUndefined()
  })

  it("removes its abort listener from the request's signal when the stream ends", async () => {
    for (const end of ['close', 'cancel'] as const) {
      const request = new Request(URL_, { signal: new AbortController().signal })
      const baseline = getEventListeners(request.signal, 'abort').length
      let stream!: EventStream
      const response = await createEventStreamResponse(
        request,
        (s) => {
          stream = s
        },
        { heartbeat: false },
      )
      expect(getEventListeners(request.signal, 'abort')).toHaveLength(baseline + 1)
      if (end === 'close') stream.close()
      else await read(response).cancel()
      expect(stream.closed).toBe(true)
      expect(getEventListeners(request.signal, 'abort')).toHaveLength(baseline)
    }
  })

  it('answers 503 to a request that was aborted before the stream opened', async () => {
    const { response, stream } = await open({ heartbeat: false }, undefined, {
      signal: AbortSignal.abort(),
    })
    expect(response.status).toBe(503)
    expect(stream.closed).toBe(true)
  })

  it('keeps send pending while the body is over its high-water mark, until the client reads', async () => {
    const { response, stream } = await open({ heartbeat: false })
    const chunk = 'x'.repeat(16 * 1024)
    let pending: Promise<boolean> | undefined
    for (let i = 0; i < 10 && pending === undefined; i++) {
      const sent = stream.send(chunk)
      let settled = false
      void sent.then(() => {
        settled = true
      })
      await tick()
      if (!settled) pending = sent
    }
    expect(pending).toBeDefined()
    const reader = read(response)
    await expect(pending).resolves.toBe(true)
    await reader.cancel()
  })

  it('drops a client that never reads at maxBufferedBytes', async () => {
    const before = getMetrics().slowClientsDropped
    const { response, stream } = await open({ heartbeat: false, maxBufferedBytes: 128 * 1024 })
    const chunk = 'y'.repeat(8 * 1024)
    let offered = 0
    while (!stream.closed && offered < 10 * 1024 * 1024) {
      void stream.send(chunk)
      offered += chunk.length
      // One write per turn of the event loop: a burst within one turn is never "behind".
      await tick()
    }
    expect(stream.closed).toBe(true)
    expect(offered).toBeLessThan(200 * 1024)
    expect(getMetrics().slowClientsDropped).toBe(before + 1)
    // The cut-off is quiet and keeps what was accepted: the head, every event written
    // before the backlog began (the body's own queue), then the end. The backlog is gone.
    const reader = read(response)
    await reader.finished
    expect(reader.error).toBe(undefined)
    const frame = `data: ${chunk}\n\n`
    const accepted = Math.ceil((64 * 1024 - 3) / frame.length)
    expect(reader.text).toBe(`:\n\n${frame.repeat(accepted)}`)
  })

  it('answers 500 and reports the error when the handler throws before the stream opens', async () => {
    const onError = vi.fn()
    const failure = new Error('handler failed')
    const { response, stream } = await open({ heartbeat: false, onError }, () => {
      throw failure
    })
    expect(response.status).toBe(500)
    expect(await response.text()).toBe('Internal Server Error')
    expect(stream.closed).toBe(true)
    expect(onError).toHaveBeenCalledWith(failure, stream)
  })

  it('closes the stream and reports the error when an async handler rejects after opening', async () => {
    const onError = vi.fn()
    const failure = new Error('late failure')
    const { response, stream } = await open({ heartbeat: false, onError }, async (s) => {
      await s.send('before')
      await tick()
      throw failure
    })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(':\n\ndata: before\n\n')
    await waitFor(() => onError.mock.calls.length > 0)
    expect(onError).toHaveBeenCalledWith(failure, stream)
    expect(stream.closed).toBe(true)
  })
})
