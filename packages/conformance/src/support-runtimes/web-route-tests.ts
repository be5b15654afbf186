/**
 * The tests every non-Node runtime (Bun, Deno, workerd) passes alike, on the routes of
 * shared-routes.ts: exact frames and headers from core's `createEventStreamResponse`, from
 * Hono's `sseRoute`, and from `c.sse()` behind `app.use(sse())`.
 */
import { expect, test } from 'vitest'
import { fetchSse } from '../../../core/src/test-utils/index.js'

/** Registers the shared tests; `base()` is the server's URL once it started. */
export function webRouteTests(base: () => string): void {
  test('createEventStreamResponse streams exact frames and headers, pipe() included', async () => {
    const client = await fetchSse(`${base()}/core`)
    expect(client.response.status).toBe(200)
    expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(client.response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(client.response.headers.get('x-accel-buffering')).toBe('no')
    expect(await client.reader.readToEnd()).toBe(
      'retry: 1500\n\ndata: Server\n\ndata: Sent\n\ndata: {"kind":"Events"}\n\nevent: done\ndata: [DONE]\n\n',
    )
  })

  test("Hono's sseRoute answers with the stream", async () => {
    const client = await fetchSse(`${base()}/hono`)
    expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(client.response.headers.get('x-accel-buffering')).toBe('no')
    // No retry or padding here: the Web transport opens the body with a comment.
    expect(await client.reader.readToEnd()).toBe(
      ':\n\nevent: greeting\nid: h1\ndata: hello from hono\ndata: on two lines\n\n',
    )
  })

  test('c.sse() through app.use(sse()) writes ids, JSON and split lines exactly', async () => {
    const client = await fetchSse(`${base()}/sse/greeting`)
    expect(client.response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(await client.reader.readToEnd()).toBe(
      ':\n\nevent: greeting\nid: 7\ndata: {"from":"c.sse()"}\n\ndata: bye\ndata: for now\n\n',
    )
  })
}
