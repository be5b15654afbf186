import { EventSource } from 'eventsource'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { start as startExpress } from '../express/server.js'
import { start as startFastify } from '../fastify/server.js'
import { start as startHono } from '../hono/server.js'
import { answer } from './dashboard.js'

/** The three examples: the same dashboard and page, each on its framework. */
const examples = [
  { name: 'Express', start: startExpress, contentType: 'text/html; charset=utf-8' },
  { name: 'Fastify', start: startFastify, contentType: 'text/html; charset=utf-8' },
  { name: 'Hono', start: startHono, contentType: 'text/html; charset=UTF-8' },
]

interface Received {
  type: string
  data: string
  id: string
}

/** Records every event of `types` that `source` dispatches; `until` waits, bounded, for enough. */
function record(source: EventSource, types: readonly string[]) {
  const events: Received[] = []
  let wake = () => {}
  for (const type of types) {
    source.addEventListener(type, (e) => {
      events.push({ type, data: e.data, id: e.lastEventId })
      wake()
    })
  }
  const until = (done: (events: Received[]) => boolean, ms = 5000) =>
    new Promise<Received[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        wake = () => {}
        reject(new Error(`timed out after ${ms} ms with ${JSON.stringify(events)}`))
      }, ms)
      wake = () => {
        if (!done(events)) return
        clearTimeout(timer)
        wake = () => {}
        resolve(events)
      }
      wake()
    })
  return { events, until }
}

function opened(source: EventSource, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not open after ${ms} ms`)), ms)
    source.addEventListener('open', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** An EventSource that sends `lastEventId` on its first request, as after a reconnect. */
function resuming(url: string, lastEventId: string): EventSource {
  return new EventSource(url, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { ...init?.headers, 'last-event-id': lastEventId } }),
  })
}

const ticks = (events: Received[]) =>
  events.filter((e) => e.type === 'tick').map((e) => JSON.parse(e.data).n)
const ID = /^[0-9a-z]{6}-[0-9]+$/

describe.each(examples)('$name example', ({ name, start, contentType }) => {
  let app: Awaited<ReturnType<typeof start>>
  const sources: EventSource[] = []
  const open = (url: string, lastEventId?: string) => {
    const source = lastEventId === undefined ? new EventSource(url) : resuming(url, lastEventId)
    sources.push(source)
    return source
  }

  beforeAll(async () => {
    app = await start({ port: 0, host: '127.0.0.1', tickMs: 20, tokenMs: 0, dropRetry: 50 })
  })
  afterAll(async () => {
    for (const source of sources) source.close()
    await app?.close()
  })

  test('serves the page that opens the EventSources', async () => {
    const response = await fetch(app.url)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe(contentType)
    const html = await response.text()
    expect(html).toContain(`<title>ssekit · ${name} example</title>`)
    expect(html).toContain("connect('clock', '/events/clock', 'clock-state')")
    expect(html).toContain('const source = new EventSource(url)')
  })

  test('broadcasts numbered ticks with store ids on the clock stream', async () => {
    const clock = record(open(`${app.url}/events/clock`), ['tick'])
    const events = await clock.until((e) => e.length >= 3)
    const first = ticks(events)[0]!
    expect(ticks(events).slice(0, 3)).toEqual([first, first + 1, first + 2])
    for (const e of events) expect(e.id).toMatch(ID)
    expect(Object.keys(JSON.parse(events[0]!.data))).toEqual(['n', 'at'])
  })

  test('a POSTed notification arrives on the notifications stream with its id', async () => {
    const source = open(`${app.url}/events/notifications`)
    const notes = record(source, ['notification'])
    await opened(source)
    const response = await fetch(`${app.url}/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello, every tab' }),
    })
    expect(response.status).toBe(201)
    const { id } = (await response.json()) as { id: string }
    expect(id).toMatch(ID)
    const [note] = await notes.until((e) => e.length >= 1)
    expect(note!.id).toBe(id)
    const data = JSON.parse(note!.data)
    expect(data).toEqual({ text: 'hello, every tab', at: data.at })
    expect(typeof data.at).toBe('number')
  })

  test('rejects a notification without text with 400', async () => {
    const response = await fetch(`${app.url}/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: '' }),
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({
      error: 'Send { "text": "…" } with 1 to 280 characters.',
    })
  })

  test('replays the notifications after a Last-Event-ID, in order, once each', async () => {
    const post = async (text: string) => {
      const response = await fetch(`${app.url}/notifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      })
      return ((await response.json()) as { id: string }).id
    }
    const seen = await post('seen')
    const missed1 = await post('missed 1')
    const missed2 = await post('missed 2')
    const notes = record(open(`${app.url}/events/notifications`, seen), ['resumed', 'notification'])
    const events = await notes.until((e) => e.length >= 3)
    // `resumed` carries no id: the client's Last-Event-ID (sent by hand here) is unchanged.
    expect(events.map((e) => [e.type, e.id])).toEqual([
      ['resumed', ''],
      ['notification', missed1],
      ['notification', missed2],
    ])
    expect(events.slice(1).map((e) => JSON.parse(e.data).text)).toEqual(['missed 1', 'missed 2'])
  })

  test('reports a Last-Event-ID it cannot resume from as a gap event', async () => {
    const notes = record(open(`${app.url}/events/notifications`, 'zzzzzz-1'), ['resumed', 'gap'])
    const events = await notes.until((e) => e.length >= 2)
    expect(events.map((e) => e.type)).toEqual(['resumed', 'gap'])
    expect(JSON.parse(events[1]!.data)).toEqual({ reason: 'unknown' })
  })

  test('after POST /drop the browser-style reconnect resumes the clock without loss', async () => {
    const source = open(`${app.url}/events/clock`)
    const clock = record(source, ['tick', 'resumed'])
    await clock.until((e) => ticks(e).length >= 2)
    const reopened = new Promise<void>((resolve) => {
      source.addEventListener('error', () => resolve(opened(source)), { once: true })
    })
    expect((await fetch(`${app.url}/drop`, { method: 'POST' })).status).toBe(204)
    await reopened
    const events = await clock.until(
      (e) => e.some((x) => x.type === 'resumed') && ticks(e).length >= 8,
    )
    const ns = ticks(events)
    expect(ns).toEqual(ns.map((_, i) => ns[0]! + i))
    expect(events.filter((e) => e.type === 'resumed')).toHaveLength(1)
  })

  test('streams the generated answer token by token, then done', async () => {
    const source = open(`${app.url}/generate?prompt=${encodeURIComponent('What is SSE?')}`)
    const tokens = record(source, ['token', 'done'])
    const events = await tokens.until((e) => e.some((x) => x.type === 'done'))
    source.close()
    const expected = answer('What is SSE?')
    expect(events.map((e) => e.type)).toEqual([...expected.map(() => 'token'), 'done'])
    expect(events.slice(0, -1).map((e) => e.data)).toEqual(expected)
    expect(JSON.parse(events.at(-1)!.data)).toEqual({ tokens: expected.length })
  })
})

test.each(examples)('$name: close() ends open streams and the server', async ({ start }) => {
  const app = await start({ port: 0, host: '127.0.0.1' })
  const source = new EventSource(`${app.url}/events/clock`)
  try {
    await opened(source)
    const dropped = new Promise<number>((resolve) => {
      source.addEventListener('error', () => resolve(source.readyState), { once: true })
    })
    await app.close()
    expect(await dropped).toBe(EventSource.CONNECTING)
    expect(app.server.listening).toBe(false)
  } finally {
    source.close()
  }
})
