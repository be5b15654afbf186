/**
 * Response headers, and when they reach the client: at once, before the first event.
 */
import { describe, expect, it } from 'vitest'
import { deferred, rawGet } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { portOf, useHarness } from './support/harness.js'
import { hasHead, parseHead, rawBody } from './support/http.js'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  it('sends status 200 and the event-stream headers before the first event', async () => {
    const gate = deferred()
    let sent = false
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: false },
        handler: async (stream) => {
          await gate.promise
          sent = true
          await stream.send('first')
          stream.close()
        },
      },
    ])
    const { response, reader } = await h.fetchSse(`${app.url}/events`)
    // fetch resolved on the head alone: the handler is still waiting for the gate, and the
    // body holds nothing but the preamble (the Web transport's opening comment).
    expect(sent).toBe(false)
    expect(await reader.waitForText(adapter.preamble.length)).toBe(adapter.preamble)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(response.headers.get('x-accel-buffering')).toBe('no')
    expect(response.headers.get('content-encoding')).toBe(null)
    expect(response.headers.get('content-length')).toBe(null)
    gate.resolve()
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: first\n\n`)
  })

  it('sends each SSE header exactly once, with Connection: keep-alive on HTTP/1.1', async () => {
    const app = await h.start(adapter, [
      { method: 'GET', path: '/events', options: { heartbeat: false }, handler: () => {} },
    ])
    const client = await h.raw(portOf(app), rawGet('/events'))
    const head = parseHead(await client.waitForBytes(hasHead))
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toEqual(['text/event-stream; charset=utf-8'])
    expect(head.headers.get('cache-control')).toEqual(['no-cache, no-transform'])
    expect(head.headers.get('x-accel-buffering')).toEqual(['no'])
    expect(head.headers.get('connection')).toEqual(['keep-alive'])
    expect(head.headers.get('content-length')).toBe(undefined)
  })

  it('adds the app-level headers option to the response, never replacing Content-Type', async () => {
    const app = await h.start(
      adapter,
      [{ method: 'GET', path: '/events', handler: (stream) => stream.close() }],
      {
        heartbeat: false,
        headers: { 'access-control-allow-origin': '*', 'content-type': 'text/plain' },
      },
    )
    const { response, reader } = await h.fetchSse(`${app.url}/events`)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await reader.readToEnd()).toBe(adapter.preamble)
  })

  it('adds the per-route headers option to the response', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: false, headers: { 'x-route': 'r', vary: 'origin' } },
        handler: (stream) => stream.close(),
      },
    ])
    const { response, reader } = await h.fetchSse(`${app.url}/events`)
    expect(response.headers.get('x-route')).toBe('r')
    expect(response.headers.get('vary')).toBe('origin')
    expect(await reader.readToEnd()).toBe(adapter.preamble)
  })

  it('keeps headers the route set the framework way before opening the stream', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: false },
        headers: {
          'x-request-id': 'abc-123',
          'access-control-allow-origin': 'https://example.test',
        },
        handler: (stream) => {
          stream.close()
        },
      },
    ])
    const { response, reader } = await h.fetchSse(`${app.url}/events`)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toBe('abc-123')
    expect(response.headers.get('access-control-allow-origin')).toBe('https://example.test')
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await reader.readToEnd()).toBe(adapter.preamble)
  })

  it('answers a Connection: close request with Connection: close and closes after the stream', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: false },
        handler: async (stream) => {
          await stream.send('bye')
          stream.close()
        },
      },
    ])
    const client = await h.raw(portOf(app), rawGet('/events', ['Connection: close']))
    const bytes = await client.waitForClose()
    const head = parseHead(bytes)
    expect(head.status).toBe(200)
    expect(head.headers.get('connection')).toEqual(['close'])
    expect(rawBody(bytes)).toBe(`${adapter.preamble}data: bye\n\n`)
  })
})
