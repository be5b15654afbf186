/**
 * A Last-Event-ID from the network is untrusted: too long, with CR/LF (through the
 * `lastEventIdQuery` parameter), or not UTF-8. The server never crashes, never echoes the
 * value, and reports a gap.
 */
import { type Gap, MemoryEventStore, type StreamOptions } from '@ssekit/core'
import { describe, expect, it } from 'vitest'
import { rawGet } from '../../core/src/test-utils/index.js'
import { adapters, type Route } from './adapters.js'
import { portOf, useHarness } from './support/harness.js'
import { isComplete, parseHead, rawBody } from './support/http.js'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  /** A route that replays from its own store and sends one live event, then ends. */
  function jobRoute(gaps: Gap[], seen: (string | undefined)[], store: MemoryEventStore): Route {
    const options: StreamOptions = {
      store,
      heartbeat: false,
      lastEventIdQuery: 'lastEventId',
      onGap: (gap) => {
        gaps.push(gap)
      },
    }
    return {
      method: 'GET',
      path: '/job',
      options,
      handler: async (stream) => {
        seen.push(stream.lastEventId)
        await stream.send('ok')
        stream.close()
      },
    }
  }

  const plainRoute: Route = {
    method: 'GET',
    path: '/plain',
    options: { heartbeat: false },
    handler: async (stream) => {
      await stream.send('still here')
      stream.close()
    },
  }

  async function stillServes(url: string) {
    const { response, reader } = await h.fetchSse(`${url}/plain`)
    expect(response.status).toBe(200)
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: still here\n\n`)
  }

  it('treats an 8 KiB Last-Event-ID as an invalid gap and never echoes it', async () => {
    const gaps: Gap[] = []
    const seen: (string | undefined)[] = []
    const store = new MemoryEventStore()
    const app = await h.start(adapter, [jobRoute(gaps, seen, store), plainRoute])
    const hostile = `${'x'.repeat(8191)}!`
    const { response, reader } = await h.fetchSse(`${app.url}/job`, {
      headers: { 'last-event-id': hostile },
    })
    expect(response.status).toBe(200)
    const text = await reader.readToEnd()
    const tag = store.append('default', { data: 'probe' }).epoch
    expect(text).toBe(`${adapter.preamble}id: ${tag}-1\ndata: ok\n\n`)
    expect([...response.headers.values()].filter((v) => v.includes('xxxxxxxx'))).toEqual([])
    expect(seen).toEqual([undefined])
    expect(gaps).toEqual([{ reason: 'invalid', lastEventId: 'x'.repeat(1024) }])
    await stillServes(app.url)
  })

  it('treats CR/LF in the lastEventIdQuery parameter as an invalid gap, never written out', async () => {
    const gaps: Gap[] = []
    const seen: (string | undefined)[] = []
    const store = new MemoryEventStore()
    const app = await h.start(adapter, [jobRoute(gaps, seen, store), plainRoute])
    const injected = 'abc\r\nevent: pwned\r\n\r\ndata: injected'
    const query = encodeURIComponent(injected)
    expect(query).toBe('abc%0D%0Aevent%3A%20pwned%0D%0A%0D%0Adata%3A%20injected')
    const { response, reader } = await h.fetchSse(`${app.url}/job?lastEventId=${query}`)
    expect(response.status).toBe(200)
    const text = await reader.readToEnd()
    const tag = store.append('default', { data: 'probe' }).epoch
    expect(text).toBe(`${adapter.preamble}id: ${tag}-1\ndata: ok\n\n`)
    expect(reader.events).toEqual([{ id: `${tag}-1`, data: 'ok' }])
    expect(seen).toEqual([undefined])
    expect(gaps).toEqual([{ reason: 'invalid', lastEventId: injected }])
    await stillServes(app.url)
  })

  it('treats a non-UTF-8 Last-Event-ID (bytes ff fe) as an unknown gap and never echoes it', async () => {
    const gaps: Gap[] = []
    const seen: (string | undefined)[] = []
    const store = new MemoryEventStore()
    const app = await h.start(adapter, [jobRoute(gaps, seen, store), plainRoute])
    const request = Buffer.concat([
      Buffer.from(
        'GET /job HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n',
        'latin1',
      ),
      Buffer.from('Last-Event-ID: ', 'latin1'),
      Buffer.from([0xff, 0xfe, 0x2d, 0x31]),
      Buffer.from('\r\n\r\n', 'latin1'),
    ])
    const client = await h.raw(portOf(app), request)
    // The response ends (the connection itself is kept alive).
    const bytes = await client.waitForBytes(isComplete)
    expect(parseHead(bytes).status).toBe(200)
    const tag = store.append('default', { data: 'probe' }).epoch
    expect(rawBody(bytes)).toBe(`${adapter.preamble}id: ${tag}-1\ndata: ok\n\n`)
    expect(bytes.includes(Buffer.from([0xff, 0xfe]))).toBe(false)
    expect(bytes.includes(Buffer.from('ÿþ', 'utf8'))).toBe(false)
    // HTTP header bytes are read as latin1: the value is a string, just not one of our ids.
    expect(seen).toEqual(['\u00ff\u00fe-1'])
    expect(gaps).toEqual([{ reason: 'unknown', lastEventId: '\u00ff\u00fe-1' }])
    await stillServes(app.url)
  })

  it('keeps serving after a Last-Event-ID beyond the HTTP header limit (431 from Node)', async () => {
    const gaps: Gap[] = []
    const seen: (string | undefined)[] = []
    const app = await h.start(adapter, [jobRoute(gaps, seen, new MemoryEventStore()), plainRoute])
    const client = await h.raw(
      portOf(app),
      rawGet('/job', [`Last-Event-ID: ${'y'.repeat(64 * 1024)}`]),
    )
    const bytes = await client.waitForClose()
    expect(parseHead(bytes).status).toBe(431)
    expect(bytes.includes('yyyyyyyy')).toBe(false)
    expect(seen).toEqual([])
    expect(gaps).toEqual([])
    await stillServes(app.url)
  })
})
