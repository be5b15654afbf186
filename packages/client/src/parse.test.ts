/**
 * Parsing, as the WHATWG rules say (HTML § 9.2.6), through `connect()` with a scripted body:
 * line ends, ids, BOM, invalid UTF-8, data formats. No sockets: each answer is a scripted
 * `Response`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { connect, type SseMessage } from './index.js'
import { fetchDouble, type Scripted } from './test-utils/fetch.js'

const sources: { close(): void }[] = []
afterEach(() => {
  for (const s of sources.splice(0)) s.close()
})

/** Reads one scripted stream to its end (reconnect off) and returns every event. */
async function read(chunks: Scripted['chunks'], lastEventId?: string) {
  const double = fetchDouble([{ chunks }])
  const source = connect('http://test.invalid/events', {
    fetch: double.fetch,
    reconnect: false,
    lastEventId,
  })
  sources.push(source)
  const out: SseMessage[] = []
  for await (const message of source) out.push(message)
  return { events: out, lastEventId: source.lastEventId, closed: await source.closed }
}

const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(
    parts.flatMap((p) => (typeof p === 'string' ? [...new TextEncoder().encode(p)] : p)),
  )

describe('parsing (WHATWG)', () => {
  it('reads the spec example: several data lines joined by LF, named events, default message', async () => {
    const { events, closed } = await read([
      'data: YHOO\ndata: +2\ndata: 10\n\n',
      'event: add\ndata: 73857293\n\n',
      ': a comment\n\ndata\n\ndata:\ndata:\n\n',
    ])
    expect(events).toEqual([
      { event: 'message', data: 'YHOO\n+2\n10', id: '' },
      { event: 'add', data: '73857293', id: '' },
      { event: 'message', data: '', id: '' },
      { event: 'message', data: '\n', id: '' },
    ])
    expect(closed).toEqual({ reason: 'done' })
  })

  it('splits lines on CRLF, CR and LF, a CRLF cut between two chunks counting once', async () => {
    const { events } = await read(['data: a\r\ndata: b\rdata: c\n\r', '\n', 'data: d\r', '\n\r\n'])
    expect(events).toEqual([
      { event: 'message', data: 'a\nb\nc', id: '' },
      { event: 'message', data: 'd', id: '' },
    ])
  })

  it('dispatches an event whose blank line ends in CR at once, before the next chunk', async () => {
    const double = fetchDouble([{ chunks: ['data: now\r\r'], hang: true }])
    const source = connect('http://test.invalid/', { fetch: double.fetch })
    sources.push(source)
    const first = await source[Symbol.asyncIterator]().next()
    expect(first).toEqual({ done: false, value: { event: 'message', data: 'now', id: '' } })
  })

  it('removes one space after the colon, no more, and never trims data', async () => {
    const { events } = await read(['data:  two spaces \ndata:none\n\n'])
    expect(events).toEqual([{ event: 'message', data: ' two spaces \nnone', id: '' }])
  })

  it('keeps the last event id across events and sets it from a block without data', async () => {
    const { events, lastEventId } = await read([
      'id: 1\ndata: a\n\n',
      'data: b\n\n',
      'id: 7\n\n',
      'data: c\n\n',
      'id\ndata: d\n\n',
      'id: 9\n',
    ])
    expect(events).toEqual([
      { event: 'message', data: 'a', id: '1' },
      { event: 'message', data: 'b', id: '1' },
      { event: 'message', data: 'c', id: '7' },
      { event: 'message', data: 'd', id: '' },
    ])
    // `id: 9` came without its blank line: the stream ended before it counted.
    expect(lastEventId).toBe('')
  })

  it('ignores an id that contains NULL', async () => {
    const { events } = await read(['id: 5\ndata: a\n\nid: 6\0x\ndata: b\n\n'])
    expect(events.map((e) => e.id)).toEqual(['5', '5'])
  })

  it('starts from the lastEventId option and sends it as Last-Event-ID', async () => {
    const double = fetchDouble([{ chunks: ['data: a\n\n'] }])
    const source = connect('http://test.invalid/', {
      fetch: double.fetch,
      reconnect: false,
      lastEventId: 'héllo-1',
    })
    const out: SseMessage[] = []
    for await (const m of source) out.push(m)
    expect(out).toEqual([{ event: 'message', data: 'a', id: 'héllo-1' }])
    // A header carries bytes: the id's UTF-8 bytes, as a browser sends them.
    const sent = double.calls[0]!.headers.get('last-event-id')!
    expect(new TextDecoder().decode(Uint8Array.from(sent, (c) => c.charCodeAt(0)))).toBe('héllo-1')
  })

  it('strips one leading BOM, not a second one', async () => {
    const { events } = await read([bytes([0xef, 0xbb, 0xbf], 'data: a\n\n')])
    expect(events).toEqual([{ event: 'message', data: 'a', id: '' }])
    const twice = await read([
      bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], 'data: a\n\ndata: b\n\n'),
    ])
    // The second BOM makes the first line a field named "\uFEFFdata": ignored.
    expect(twice.events).toEqual([{ event: 'message', data: 'b', id: '' }])
  })

  it('reads invalid UTF-8 as replacement characters, and a character cut between chunks whole', async () => {
    const { events } = await read([
      bytes('data: ', [0xff, 0xfe], ' ok\n\ndata: ', [0xe2, 0x82], '\n\n'),
      bytes('data: ', [0xe2, 0x82]),
      bytes([0xac], '\n\n'),
    ])
    expect(events).toEqual([
      { event: 'message', data: '\uFFFD\uFFFD ok', id: '' },
      { event: 'message', data: '\uFFFD', id: '' },
      { event: 'message', data: '€', id: '' },
    ])
  })

  it('ignores unknown fields and an event name without data', async () => {
    const { events } = await read(['foo: bar\nevent: lonely\n\nevent:\ndata: x\n\n'])
    expect(events).toEqual([{ event: 'message', data: 'x', id: '' }])
  })

  it('drops an incomplete event at the end of the stream', async () => {
    const { events } = await read(['data: whole\n\ndata: cut'])
    expect(events).toEqual([{ event: 'message', data: 'whole', id: '' }])
  })
})

describe('data formats', () => {
  type Answer = { token: string; done: { usage: number }; n: number }

  async function typed(chunks: string[]) {
    const double = fetchDouble([{ chunks }])
    const source = connect<Answer>('http://test.invalid/', {
      fetch: double.fetch,
      reconnect: false,
      events: { token: 'text', done: 'json', n: (text) => Number(text) * 2 },
    })
    sources.push(source)
    const out: SseMessage<Answer>[] = []
    for await (const m of source) out.push(m)
    return { out, closed: await source.closed }
  }

  it("reads 'text' events as they came ('42' stays a string), 'json' ones parsed, a function's way", async () => {
    const { out, closed } = await typed([
      'event: token\ndata: 42\n\n',
      'event: token\ndata: "quoted"\n\n',
      'event: n\ndata: 21\n\n',
      'event: done\ndata: {"usage":3}\n\n',
    ])
    expect(out).toEqual([
      { event: 'token', data: '42', id: '' },
      { event: 'token', data: '"quoted"', id: '' },
      { event: 'n', data: 42, id: '' },
      { event: 'done', data: { usage: 3 }, id: '' },
    ])
    expect(closed).toEqual({ reason: 'done' })
  })

  it('skips events the map does not name, as an EventSource without their listener', async () => {
    const { out } = await typed(['event: other\ndata: x\n\ndata: y\n\nevent: token\ndata: t\n\n'])
    expect(out).toEqual([{ event: 'token', data: 't', id: '' }])
  })

  it('fails the source with ERR_SSE_INVALID_DATA when json data does not parse', async () => {
    const double = fetchDouble([
      { chunks: ['event: token\ndata: a\n\nevent: done\ndata: oops\n\n'] },
    ])
    const source = connect<Answer>('http://test.invalid/', {
      fetch: double.fetch,
      events: { token: 'text', done: 'json', n: 'json' },
    })
    const out: unknown[] = []
    const error = await (async () => {
      try {
        for await (const m of source) out.push(m.data)
      } catch (e) {
        return e
      }
    })()
    expect(out).toEqual(['a'])
    expect(error).toMatchObject({ name: 'SseClientError', code: 'ERR_SSE_INVALID_DATA' })
    expect((error as Error).message).toMatch(
      /^@ssekit\/client: the data of event "done" could not be parsed/,
    )
    expect(await source.closed).toEqual({ reason: 'failed', error })
    expect(double.calls).toHaveLength(1)
  })
})
