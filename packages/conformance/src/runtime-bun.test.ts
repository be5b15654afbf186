/**
 * Core's Web transport and the Hono adapter on Bun, with Bun's own HTTP server: the Fetch
 * path loads nothing from `node:` and runs wherever Hono runs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fetchSse, waitFor } from '../../core/src/test-utils/index.js'
import { within } from './support/harness.js'

// The binary itself, not node_modules/.bin/bun: that is a shell script that runs Bun as its
// child, so killing it would leave Bun running (and holding this worker's stdout pipe open).
const bun = fileURLToPath(new URL('../node_modules/bun/bin/bun.exe', import.meta.url))
const script = fileURLToPath(new URL('./support-runtimes/web-server.ts', import.meta.url))

describe('on Bun', () => {
  let child: ChildProcess
  let url: string

  beforeAll(async () => {
    if (!existsSync(bun)) {
      throw new Error(
        'bun is not installed: run `pnpm install` (bun is a devDependency of packages/conformance)',
      )
    }
    child = spawn(bun, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines = createInterface({ input: child.stdout! })
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bun did not start within 15 s')), 15_000)
      lines.once('line', (line) => {
        clearTimeout(timer)
        resolve((JSON.parse(line) as { port: number }).port)
      })
      child.once('exit', (code) => reject(new Error(`bun exited with ${code}`)))
    })
    url = `http://127.0.0.1:${port}`
  })

  afterAll(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  })

  test('createEventStreamResponse streams exact frames, pipe() included', async () => {
    const client = await fetchSse(`${url}/core`)
    expect(client.response.status).toBe(200)
    expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(client.response.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(await client.reader.readToEnd()).toBe(
      'retry: 1500\n\ndata: Server\n\ndata: Sent\n\ndata: {"kind":"Events"}\n\nevent: done\ndata: [DONE]\n\n',
    )
  })

  test("Hono's sseRoute answers with the stream", async () => {
    const client = await fetchSse(`${url}/hono`)
    expect(client.response.headers.get('x-accel-buffering')).toBe('no')
    // No retry or padding here: the Web transport opens the body with a comment.
    expect(await client.reader.readToEnd()).toBe(
      ':\n\nevent: greeting\nid: h1\ndata: hello from hono\ndata: on two lines\n\n',
    )
  })

  test('a channel broadcasts, replays after Last-Event-ID, and notices a client leaving', async () => {
    const metrics = async () =>
      (await (await fetch(`${url}/metrics`)).json()) as { openStreams: number }
    const publish = async (data: unknown) =>
      (
        (await (
          await fetch(`${url}/publish`, { method: 'POST', body: JSON.stringify(data) })
        ).json()) as {
          id: string
        }
      ).id
    // fetch resolves on the headers, which Bun sends with the first body bytes only: the
    // stream's opening comment brings them before anything is published.
    const first = await within(fetchSse(`${url}/news`), 5000, 'Bun: the headers of /news')
    await waitFor(async () => (await metrics()).openStreams === 1)
    const id1 = await publish({ n: 1 })
    const id2 = await publish({ n: 2 })
    expect(await first.reader.waitForEvents(2)).toEqual([
      { event: 'news', id: id1, data: '{"n":1}' },
      { event: 'news', id: id2, data: '{"n":2}' },
    ])
    await first.abort()
    await waitFor(
      async () => (await metrics()).openStreams === 0,
      5000,
      'Bun: the stream of a gone client closes',
    )
    const resumed = await fetchSse(`${url}/news`, { headers: { 'last-event-id': id1 } })
    expect(await resumed.reader.waitForEvents(1)).toEqual([
      { event: 'news', id: id2, data: '{"n":2}' },
    ])
    await resumed.abort()
  })
})
