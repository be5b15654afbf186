/**
 * Where a dropped POST resumes: a `Content-Location` on the same origin keeps the caller's
 * headers; one on another origin gets none of them (no Authorization, no API key), as fetch
 * does on a cross-origin redirect.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, startServer, waitFor } from '../../core/src/test-utils/index.js'
import { connect } from './index.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const SSE = { 'content-type': 'text/event-stream' }

describe('Content-Location', () => {
  it.each([
    ['the same origin', true],
    ['another origin', false],
  ])('resumes a dropped POST on %s, with the caller headers only there', async (_name, same) => {
    const seen: { method: string; path: string; headers: IncomingHttpHeaders }[] = []
    const resume = (res: ServerResponse) => {
      // The end of the answer: one more event, then 204 on the next reconnect.
      res.writeHead(200, SSE)
      res.end('id: 2\ndata: two\n\n')
    }
    const other = cleanup.add(
      await startServer((req, res) => {
        seen.push({ method: req.method!, path: req.url!, headers: req.headers })
        if (seen.filter((s) => s.path === '/answers/1').length > 1)
          return void res.writeHead(204).end()
        resume(res)
      }),
      (s) => s.close(),
    )
    const origin = cleanup.add(
      await startServer((req, res) => {
        seen.push({ method: req.method!, path: req.url!, headers: req.headers })
        if (req.method === 'POST') {
          const location = same ? '/answers/1' : `${other.url()}answers/1`
          res.writeHead(200, { ...SSE, 'content-location': location })
          // One event, then the connection drops mid-answer.
          res.write('id: 1\ndata: one\n\n', () => res.destroy())
          return
        }
        if (seen.filter((s) => s.path === '/answers/1').length > 1)
          return void res.writeHead(204).end()
        resume(res)
      }),
      (s) => s.close(),
    )
    const source = connect(`${origin.url()}answers`, {
      json: { prompt: 'hi' },
      headers: { authorization: 'Bearer SECRET', 'x-api-key': 'k' },
      reconnect: { delay: 0, maxDelay: 0 },
    })
    cleanup.add(source, (s) => s.close())
    const data: unknown[] = []
    source.on('message', (m) => data.push(m.data))
    await waitFor(
      async () => (await Promise.race([source.closed, Promise.resolve(false)])) !== false,
      5000,
    )
    expect(data).toEqual(['one', 'two'])
    const gets = seen.filter((s) => s.method === 'GET')
    expect(seen.filter((s) => s.method === 'POST')).toHaveLength(1)
    expect(gets[0]!.headers['last-event-id']).toBe('1')
    expect(gets[0]!.headers.authorization).toBe(same ? 'Bearer SECRET' : undefined)
    expect(gets[0]!.headers['x-api-key']).toBe(same ? 'k' : undefined)
  })
})
