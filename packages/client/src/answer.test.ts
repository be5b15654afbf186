/**
 * The AI-answer pattern end to end, on real servers written with each adapter (Express,
 * Fastify, Hono) and real fetch: a POST starts a named log with `produce()` and answers with
 * `Content-Location`; the client reads it typed, resumes a dropped stream with a GET there
 * (never sending the POST again), and stops on the 204 that answers the end.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, waitFor } from '../../core/src/test-utils/index.js'
import { connect, type RetryInfo, type SseClientError, type SseMessage } from './index.js'
import { type Answer, type Framework, startAnswerApp } from './test-utils/apps.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const events = { token: 'text', done: 'json', error: 'json' } as const
// Reconnect at once: the timing itself is tested with fake timers (backoff.test.ts).
const reconnect = { delay: 0, maxDelay: 0 }

describe.each(['express', 'fastify', 'hono'] as Framework[])('%s', (framework) => {
  it('reads a typed POST answer: exact events with their ids, then stops on the 204 at its end', async () => {
    const app = cleanup.add(await startAnswerApp(framework, ['Hel', 'lo', '42', ' world']), (a) =>
      a.close(),
    )
    app.release(4)
    const source = connect<Answer>(`${app.url}/answers`, {
      json: { prompt: 'Say hello' },
      events,
      reconnect,
    })
    cleanup.add(source, (s) => s.close())
    const seen: SseMessage<Answer>[] = []
    for await (const message of source) seen.push(message)

    expect(seen.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: 'token', data: 'Hel' },
      { event: 'token', data: 'lo' },
      { event: 'token', data: '42' },
      { event: 'token', data: ' world' },
      { event: 'done', data: { usage: 4 } },
    ])
    const ids = seen.map((m) => m.id)
    expect(new Set(ids).size).toBe(5)
    expect(await source.closed).toEqual({ reason: 'done' })
    expect(source.url).toBe(`${app.url}/answers/1`)
    expect(source.lastEventId).toBe(ids[4])
    // The end closed the stream; the reconnect GETs the Content-Location from the last id
    // and is answered 204.
    expect(app.requests).toEqual(['POST /answers', 'GET /answers/1'])
    expect(app.lastEventIds).toEqual(['', ids[4]])
  })

  it('resumes a POST dropped mid-answer with a GET to its Content-Location: no token lost or doubled, the POST sent once', async () => {
    const tokens = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
    const app = cleanup.add(await startAnswerApp(framework, tokens), (a) => a.close())
    const retries: RetryInfo[] = []
    const source = connect<Answer>(`${app.url}/answers`, {
      json: { prompt: 'Count' },
      events,
      reconnect,
      onRetry: (info) => retries.push(info),
    })
    cleanup.add(source, (s) => s.close())
    const got: string[] = []
    const ids: string[] = []
    let done: { usage: number } | undefined
    source.on('token', (m) => {
      got.push(m.data)
      ids.push(m.id)
    })
    source.on('done', (m) => {
      done = m.data
    })

    app.release(3)
    await waitFor(() => got.length === 3)
    app.dropConnections() // the network drops after 3 tokens
    app.release(4) // the producer goes on without readers

    expect(await source.closed).toEqual({ reason: 'done' })
    expect(got).toEqual(tokens)
    expect(done).toEqual({ usage: 7 })
    expect(app.requests.filter((r) => r.startsWith('POST'))).toEqual(['POST /answers'])
    expect(app.requests).toEqual(['POST /answers', 'GET /answers/1', 'GET /answers/1'])
    // The resume started from the last token read before the drop.
    expect(app.lastEventIds[1]).toBe(ids[2])
    expect(retries.map((r) => (r.error as SseClientError | undefined)?.code)).toEqual([
      'ERR_SSE_NETWORK',
      undefined,
    ])
  })

  it("takes the end's id from the id-only frame that answers an unknown Last-Event-ID on an ended log, and stops on the 204", async () => {
    const app = cleanup.add(await startAnswerApp(framework, ['x']), (a) => a.close())
    app.release(1)
    const first = connect<Answer>(`${app.url}/answers`, { json: {}, events, reconnect })
    for await (const _ of first) {
    }
    const endId = first.lastEventId
    const source = connect<Answer>(`${app.url}/answers/1`, {
      events,
      reconnect,
      lastEventId: 'zzzzzz-1', // not an id of this log
    })
    const got: string[] = []
    source.on('token', (m) => got.push(m.data))
    expect(await source.closed).toEqual({ reason: 'done' })
    // A gap (nothing replayed), then `id: <the log's end>` with no data: the next request
    // carries it, and is answered 204.
    expect(got).toEqual([])
    const [unknown, fromFrame] = app.lastEventIds.slice(-2)
    expect(unknown).toBe('zzzzzz-1')
    expect(fromFrame).toBe(source.lastEventId)
    expect(fromFrame!.split('-')[0]).toBe(endId.split('-')[0]) // an id of this log
    expect(app.requests.slice(-2)).toEqual(['GET /answers/1', 'GET /answers/1'])
  })

  it('stops on the 404 of an answer that does not exist, saying why', async () => {
    const app = cleanup.add(await startAnswerApp(framework, []), (a) => a.close())
    const source = connect<Answer>(`${app.url}/answers/99`, { events, reconnect })
    source.on('token', () => {})
    const closed = await source.closed
    expect(closed.reason).toBe('failed')
    const error = (closed as { error: SseClientError }).error
    expect(error.code).toBe('ERR_SSE_HTTP_STATUS')
    expect(error.status).toBe(404)
    expect(error.message).toBe(
      `@ssekit/client: ${app.url}/answers/99 answered 404 Not Found; check the URL (an ssekit app answers 404 for a log that does not exist).`,
    )
    expect(app.requests).toEqual(['GET /answers/99'])
  })
})
