/**
 * What an answer's status and type mean, on a real server and real fetch: 204 finishes; a
 * status that cannot succeed, or a 200 that is not an event stream, stops with a reason;
 * 5xx, 408 and 429 are retried.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup } from '../../core/src/test-utils/index.js'
import { connect, type SseClientError } from './index.js'
import { openStream, startRawServer } from './test-utils/apps.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

async function closedBy(status: number, headers: Record<string, string> = {}, body = '') {
  const server = cleanup.add(
    await startRawServer((_req, res) => res.writeHead(status, headers).end(body)),
    (s) => s.close(),
  )
  const source = connect(`${server.url}/events`, { reconnect: { delay: 0, maxDelay: 0 } })
  source.on('message', () => {})
  const closed = await source.closed
  return { closed, server, error: (closed as { error?: SseClientError }).error }
}

describe('statuses', () => {
  it('stops on 204 without reconnecting: the server finished', async () => {
    const { closed, server } = await closedBy(204)
    expect(closed).toEqual({ reason: 'done' })
    expect(server.requests).toHaveLength(1)
  })

  it('stops on 401 and says why', async () => {
    const { closed, server, error } = await closedBy(401, { 'www-authenticate': 'Bearer' })
    expect(closed.reason).toBe('failed')
    expect(error).toMatchObject({
      name: 'SseClientError',
      code: 'ERR_SSE_HTTP_STATUS',
      status: 401,
    })
    expect(error!.message).toBe(
      `@ssekit/client: ${server.url}/events answered 401 Unauthorized; send the credentials it expects (headers or credentials: "include").`,
    )
    expect(server.requests).toHaveLength(1)
  })

  it.each([400, 403, 405, 410, 422])('stops on %i without retrying', async (status) => {
    const { error, server } = await closedBy(status)
    expect(error).toMatchObject({ code: 'ERR_SSE_HTTP_STATUS', status })
    expect(server.requests).toHaveLength(1)
  })

  it('stops on a 200 that is not text/event-stream', async () => {
    const { closed, server, error } = await closedBy(
      200,
      { 'content-type': 'text/html' },
      '<h1>hi</h1>',
    )
    expect(closed.reason).toBe('failed')
    expect(error).toMatchObject({ code: 'ERR_SSE_CONTENT_TYPE', status: 200 })
    expect(error!.message).toBe(
      `@ssekit/client: ${server.url}/events answered 200 with Content-Type "text/html", not text/event-stream: it is not a Server-Sent Events endpoint.`,
    )
    expect(server.requests).toHaveLength(1)
  })

  it.each([408, 429, 500, 502, 503])('retries %i, then reads the stream', async (status) => {
    const server = cleanup.add(
      await startRawServer((_req, res, i) => {
        if (i === 0) return res.writeHead(status).end()
        if (i === 2) return res.writeHead(204).end()
        openStream(res)
        res.end('data: back\n\n')
      }),
      (s) => s.close(),
    )
    const source = connect(`${server.url}/`, { reconnect: { delay: 0, maxDelay: 0 } })
    const got: string[] = []
    source.on('message', (m) => got.push(m.data))
    expect(await source.closed).toEqual({ reason: 'done' })
    expect(got).toEqual(['back'])
    expect(server.requests).toHaveLength(3)
  })

  it('accepts text/event-stream in any case and with parameters', async () => {
    const server = cleanup.add(
      await startRawServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'Text/Event-Stream ; charset=UTF-8' })
        res.end('data: ok\n\n')
      }),
      (s) => s.close(),
    )
    const source = connect(server.url, { reconnect: false })
    const got: string[] = []
    for await (const m of source) got.push(m.data)
    expect(got).toEqual(['ok'])
  })

  it('sends the method, headers, credentials and body it was given, and Accept: text/event-stream', async () => {
    const seen: { method?: string; headers: Record<string, unknown>; body: string }[] = []
    const server = cleanup.add(
      await startRawServer((req, res) => {
        let body = ''
        req.setEncoding('utf8')
        req.on('data', (c) => {
          body += c
        })
        req.on('end', () => {
          seen.push({ method: req.method, headers: req.headers, body })
          res.writeHead(204).end()
        })
      }),
      (s) => s.close(),
    )
    const form = new FormData()
    form.set('q', 'hi')
    const bodies = [
      { body: 'plain', type: 'text/plain;charset=UTF-8', text: 'plain' },
      {
        body: new URLSearchParams({ a: '1' }),
        type: 'application/x-www-form-urlencoded;charset=UTF-8',
        text: 'a=1',
      },
      { body: new Blob(['blob'], { type: 'text/x-blob' }), type: 'text/x-blob', text: 'blob' },
    ]
    for (const b of bodies) {
      const source = connect(server.url, {
        method: 'PUT',
        body: b.body,
        headers: { authorization: 'Bearer t' },
      })
      source.on('message', () => {})
      await source.closed
    }
    const json = connect(server.url, { json: { prompt: 'x' }, credentials: 'include' })
    json.on('message', () => {})
    await json.closed
    const formSource = connect(server.url, { body: form })
    formSource.on('message', () => {})
    await formSource.closed

    expect(
      seen
        .slice(0, 3)
        .map((s) => [
          s.method,
          s.headers['content-type'],
          s.body,
          s.headers.authorization,
          s.headers.accept,
        ]),
    ).toEqual(bodies.map((b) => ['PUT', b.type, b.text, 'Bearer t', 'text/event-stream']))
    expect([seen[3]!.method, seen[3]!.headers['content-type'], seen[3]!.body]).toEqual([
      'POST',
      'application/json',
      '{"prompt":"x"}',
    ])
    expect(seen[4]!.method).toBe('POST')
    expect(seen[4]!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    expect(seen[4]!.body).toContain('name="q"\r\n\r\nhi\r\n')
  })
})
