import { afterEach, describe, expect, it, vi } from 'vitest'
import { SseTypeError } from './errors.js'
import { heartbeatTimers } from './heartbeat.js'
import { getMetrics } from './metrics.js'
import { allStreams } from './registry.js'
import { deferred, MemoryTransport, memoryStream, parseSse, tick } from './test-utils/index.js'

const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
}

/** Lets the stream's end-of-tick open run. */
const microtasks = () => Promise.resolve()
const KiB = 1024

afterEach(() => {
  for (const s of opened.splice(0)) s.close()
  vi.restoreAllMocks()
})
const opened: { close(): void }[] = []
function open(...args: Parameters<typeof memoryStream>) {
  const made = memoryStream(...args)
  opened.push(made.stream)
  return made
}

describe('opening', () => {
  it('answers 200 with the SSE headers at the end of the tick, before any event', async () => {
    const { transport } = open({ heartbeat: false })
    expect(transport.status).toBe(undefined)
    await microtasks()
    expect(transport.status).toBe(200)
    expect(transport.headers).toEqual(HEADERS)
    expect(transport.text).toBe('')
  })

  it('opens at once on the first write, exactly once', async () => {
    const { stream, transport } = open({ heartbeat: false })
    void stream.send('a')
    expect(transport.status).toBe(200)
    await microtasks()
    expect(transport.opens).toBe(1)
    expect(transport.text).toBe('data: a\n\n')
  })

  it('writes padding, then retry, then events', async () => {
    const { stream, transport } = open({ heartbeat: false, padding: 8, retry: 250 })
    await stream.send('first')
    expect(transport.text).toBe(`:${' '.repeat(5)}\n\nretry: 250\n\ndata: first\n\n`)
  })

  it('counts open streams while they are open', async () => {
    const before = getMetrics()
    const { stream } = open({ heartbeat: false })
    await microtasks()
    expect(getMetrics().openStreams).toBe(before.openStreams + 1)
    expect(getMetrics().streamsOpened).toBe(before.streamsOpened + 1)
    expect(allStreams.size).toBe(1)
    stream.close()
    expect(getMetrics().openStreams).toBe(before.openStreams)
    expect(allStreams.size).toBe(0)
  })
})

describe('send', () => {
  it('sends a string payload as is and any other payload as JSON', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await stream.send('plain')
    await stream.send({ n: 1 })
    await stream.send([1, 2])
    await stream.send(0)
    expect(transport.text).toBe('data: plain\n\ndata: {"n":1}\n\ndata: [1,2]\n\ndata: 0\n\n')
  })

  it('sends an SseEvent with its name, id and retry', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await stream.send({ event: 'tick', id: '1', retry: 0, data: { n: 1 } })
    expect(transport.text).toBe('event: tick\nid: 1\nretry: 0\ndata: {"n":1}\n\n')
  })

  it('serializes a payload that has keys besides those of an event as a whole', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await stream.send({ data: 1, user: 'x' })
    expect(transport.text).toBe('data: {"data":1,"user":"x"}\n\n')
  })

  it('uses the serializer option for non-string data', async () => {
    const { stream, transport } = open({
      heartbeat: false,
      serializer: (v) => `#${JSON.stringify(v)}`,
    })
    await stream.send({ a: 1 })
    await stream.send('text')
    expect(transport.text).toBe('data: #{"a":1}\n\ndata: text\n\n')
  })

  it('resolves true once accepted and false once closed, and never rejects', async () => {
    const { stream } = open({ heartbeat: false })
    await expect(stream.send('a')).resolves.toBe(true)
    stream.close()
    await expect(stream.send('b')).resolves.toBe(false)
    await expect(stream.comment('c')).resolves.toBe(false)
  })

  it('throws a TypeError at once for a field that cannot be written, writing nothing', async () => {
    const { stream, transport } = open({ heartbeat: false })
    expect(() => stream.send({ data: 'x', id: 'a\nb' })).toThrow(SseTypeError)
    expect(() => stream.send({ data: 'x', event: 'a\rb' })).toThrow(/"event"/)
    expect(() => stream.send({ data: 'x', retry: -1 })).toThrow(/"retry"/)
    expect(() => stream.send(undefined)).toThrow(/"data"/)
    await microtasks()
    expect(transport.text).toBe('')
  })

  it('writes comments with every line prefixed', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await stream.comment('a\nb')
    await stream.comment()
    expect(transport.text).toBe(': a\n: b\n\n:\n\n')
    expect(parseSse(transport.text).events).toEqual([])
  })
})

describe('backpressure', () => {
  it('keeps send pending while over the high-water mark and resolves true after the client reads', async () => {
    const transport = new MemoryTransport({ highWaterMark: 20 })
    const { stream } = open({ heartbeat: false }, { transport })
    await expect(stream.send('0123456789')).resolves.toBe(true)
    let settled: boolean | undefined
    const pending = stream.send('0123456789').then((ok) => {
      settled = ok
      return ok
    })
    await tick()
    expect(settled).toBe(undefined)
    // A second send while waiting shares the wait.
    const second = stream.send('x')
    transport.read()
    await expect(pending).resolves.toBe(true)
    await expect(second).resolves.toBe(true)
  })

  it('resolves a pending send with false when the stream closes', async () => {
    const transport = new MemoryTransport({ highWaterMark: 5 })
    const { stream } = open({ heartbeat: false }, { transport })
    const pending = stream.send('0123456789')
    stream.close()
    await expect(pending).resolves.toBe(false)
  })

  it('drops a client that falls more than maxBufferedBytes behind, counting from the next turn', async () => {
    const before = getMetrics().slowClientsDropped
    const onError = vi.fn()
    const transport = new MemoryTransport({ highWaterMark: 40 * KiB })
    const { stream } = open(
      { heartbeat: false, maxBufferedBytes: 64 * KiB, onError },
      { transport },
    )
    const chunk = 'x'.repeat(18 * KiB - 8)
    const results: Promise<boolean>[] = []
    for (let i = 0; i < 10 && !stream.closed; i++) {
      results.push(stream.send(chunk))
      // Writes of one turn of the event loop have not had a chance to leave: they are
      // never "behind". A client that takes nothing is measured from the next turn on.
      await tick()
    }
    expect(stream.closed).toBe(true)
    expect(transport.dropped).toBe(true)
    expect(transport.aborted).toBe(false)
    expect(stream.signal.aborted).toBe(true)
    expect(getMetrics().slowClientsDropped).toBe(before + 1)
    // Frames of 18 KiB: 36 KiB is under the mark, 54 over it (waits); the frame in flight and
    // the one of this turn are not behind, so 108 KiB buffered is 72 KiB behind: cut off.
    expect(results).toHaveLength(6)
    expect(await Promise.all(results)).toEqual([true, true, false, false, false, false])
    expect(onError).toHaveBeenCalledTimes(1)
    expect(onError.mock.calls[0]![0]).toMatchObject({ code: 'ERR_SSE_SLOW_CLIENT' })
  })

  it('keeps a client through a burst of any length written in one turn', async () => {
    const onError = vi.fn()
    const transport = new MemoryTransport({ highWaterMark: 40 * KiB })
    const { stream } = open(
      { heartbeat: false, maxBufferedBytes: 64 * KiB, onError },
      { transport },
    )
    const results = Array.from({ length: 100 }, (_, i) =>
      stream.send(`${i} ${'b'.repeat(8 * KiB)}`),
    )
    expect(stream.closed).toBe(false)
    transport.read()
    expect(await Promise.all(results)).toEqual(results.map(() => true))
    expect(parseSse(transport.text).events).toHaveLength(100)
    expect(onError).not.toHaveBeenCalled()
  })
})

describe('events larger than maxBufferedBytes', () => {
  it('keeps a client that reads while one event is larger than maxBufferedBytes', async () => {
    const onError = vi.fn()
    const transport = new MemoryTransport({ highWaterMark: 40 * KiB })
    const { stream } = open(
      { heartbeat: false, maxBufferedBytes: 64 * KiB, onError },
      { transport },
    )
    const big = 'x'.repeat(1000 * KiB)
    const sent = stream.send(big)
    await tick()
    // A small event behind the big one, a turn later, is not enough to be "behind".
    const small = stream.send('after')
    expect(stream.closed).toBe(false)
    transport.read()
    await expect(sent).resolves.toBe(true)
    await expect(small).resolves.toBe(true)
    const again = stream.send(big)
    await tick()
    transport.read()
    await expect(again).resolves.toBe(true)
    expect(stream.closed).toBe(false)
    expect(transport.text === `data: ${big}\n\ndata: after\n\ndata: ${big}\n\n`).toBe(true)
    expect(onError).not.toHaveBeenCalled()
  })

  it('still cuts off a client that takes nothing while big events keep coming', async () => {
    const transport = new MemoryTransport({ highWaterMark: 40 * KiB })
    const { stream } = open({ heartbeat: false, maxBufferedBytes: 64 * KiB }, { transport })
    // One big event behind the one in flight is allowed (a channel may write two at once);
    // a third, turns later, is not.
    for (let i = 0; i < 2; i++) {
      void stream.send('x'.repeat(1000 * KiB))
      await tick()
    }
    expect(stream.closed).toBe(false)
    void stream.send('x'.repeat(1000 * KiB))
    await tick()
    void stream.send('small')
    expect(stream.closed).toBe(true)
    expect(transport.dropped).toBe(true)
  })
})

describe('close, signal and onClose', () => {
  it('ends the transport once and is safe to call twice', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await microtasks()
    stream.close()
    stream.close()
    expect(stream.closed).toBe(true)
    expect(transport.ended).toBe(true)
    expect(transport.aborted).toBe(false)
    expect(transport.listening).toBe(false)
  })

  it('opens and ends a stream closed before it opened (200, empty body)', () => {
    const { stream, transport } = open({ heartbeat: false })
    stream.close()
    expect(transport.status).toBe(200)
    expect(transport.ended).toBe(true)
    expect(transport.text).toBe('')
  })

  it('aborts its signal on close, even when read after', async () => {
    const { stream } = open({ heartbeat: false })
    const signal = stream.signal
    expect(signal.aborted).toBe(false)
    stream.close()
    expect(signal.aborted).toBe(true)
    const { stream: other } = open({ heartbeat: false })
    other.close()
    expect(other.signal.aborted).toBe(true)
  })

  it('calls onClose functions once, and at once when already closed', async () => {
    const { stream, transport } = open({ heartbeat: false })
    const first = vi.fn()
    const removed = vi.fn()
    stream.onClose(first)
    const off = stream.onClose(removed)
    off()
    transport.disconnect()
    stream.close()
    transport.disconnect()
    expect(first).toHaveBeenCalledTimes(1)
    expect(removed).not.toHaveBeenCalled()
    const late = vi.fn()
    stream.onClose(late)
    expect(late).toHaveBeenCalledTimes(1)
  })

  it('reports an onClose function that throws to onError and still calls the others', async () => {
    const onError = vi.fn()
    const { stream } = open({ heartbeat: false, onError })
    const failure = new Error('boom')
    const after = vi.fn()
    stream.onClose(() => {
      throw failure
    })
    stream.onClose(after)
    stream.close()
    expect(onError).toHaveBeenCalledWith(failure, stream)
    expect(after).toHaveBeenCalledTimes(1)
  })

  it('treats a client disconnect as a close that aborts the transport', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await microtasks()
    transport.disconnect()
    expect(stream.closed).toBe(true)
    expect(stream.signal.aborted).toBe(true)
    expect(transport.aborted).toBe(true)
    expect(transport.ended).toBe(false)
  })
})

describe('lastEventId', () => {
  it('exposes the Last-Event-ID the client sent', () => {
    expect(open({ heartbeat: false }, { lastEventId: 'abc-1' }).stream.lastEventId).toBe('abc-1')
    expect(open({ heartbeat: false }).stream.lastEventId).toBe(undefined)
    expect(open({ heartbeat: false }, { lastEventId: '' }).stream.lastEventId).toBe(undefined)
  })

  it('exposes no Last-Event-ID that could not be an id (too long, CR, LF, NUL)', () => {
    for (const bad of ['x'.repeat(1025), 'a\nb', 'a\rb', 'a\0b']) {
      expect(open({ heartbeat: false }, { lastEventId: bad }).stream.lastEventId).toBe(undefined)
    }
    expect(open({ heartbeat: false }, { lastEventId: 'x'.repeat(1024) }).stream.lastEventId).toBe(
      'x'.repeat(1024),
    )
  })
})

describe('pipe', () => {
  it('sends every item of an async iterable in order and leaves the stream open', async () => {
    const { stream, transport } = open({ heartbeat: false })
    async function* tokens() {
      yield 'a'
      yield { event: 'e', data: 'b' }
      yield { n: 3 }
    }
    await stream.pipe(tokens())
    expect(transport.text).toBe('data: a\n\nevent: e\ndata: b\n\ndata: {"n":3}\n\n')
    expect(stream.closed).toBe(false)
  })

  it('sends every item of a sync iterable', async () => {
    const { stream, transport } = open({ heartbeat: false })
    await stream.pipe(new Set([1, 2]))
    expect(transport.text).toBe('data: 1\n\ndata: 2\n\n')
  })

  it("calls the generator's return() when the stream closes, so its finally runs", async () => {
    const { stream, transport } = open({ heartbeat: false })
    const gate = deferred()
    let cleanedUp = 0
    async function* source() {
      try {
        yield 1
        await gate.promise
        yield 2
      } finally {
        cleanedUp++
      }
    }
    const piping = stream.pipe(source())
    await vi.waitFor(() => expect(transport.text).toBe('data: 1\n\n'))
    stream.close()
    gate.resolve()
    await piping
    expect(cleanedUp).toBe(1)
    expect(transport.text).toBe('data: 1\n\n')
  })

  it("calls the source's return() when one of its items cannot be sent, and rejects", async () => {
    const { stream, transport } = open({ heartbeat: false })
    let cleanedUp = 0
    async function* source() {
      try {
        yield 'ok'
        yield undefined
        yield 'never'
      } finally {
        cleanedUp++
      }
    }
    await expect(stream.pipe(source())).rejects.toThrow(/"data" of type undefined/)
    expect(cleanedUp).toBe(1)
    expect(transport.text).toBe('data: ok\n\n')
  })

  it('rejects with the error of a failing source without closing the stream', async () => {
    const { stream } = open({ heartbeat: false })
    const failure = new Error('source failed')
    async function* source() {
      yield 1
      throw failure
    }
    await expect(stream.pipe(source())).rejects.toBe(failure)
    expect(stream.closed).toBe(false)
  })
})

describe('heartbeat registration', () => {
  it('joins no heartbeat before it opens and leaves it when closed', async () => {
    const { stream } = open({ heartbeat: 5000 })
    expect(heartbeatTimers()).toBe(0)
    await microtasks()
    expect(heartbeatTimers()).toBe(1)
    stream.close()
    expect(heartbeatTimers()).toBe(0)
  })
})
