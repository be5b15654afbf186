/**
 * Core's Web transport and the Hono adapter on Bun, with Bun's own HTTP server: the Fetch
 * path loads nothing from `node:` and runs wherever Hono runs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  fetchSse,
  RawClient,
  rawGet,
  SseCollector,
  splitResponse,
  waitFor,
} from '../../core/src/test-utils/index.js'
import { within } from './support/harness.js'
import { webRouteTests } from './support-runtimes/web-route-tests.js'

// The binary itself, not node_modules/.bin/bun: that is a shell script that runs Bun as its
// child, so killing it would leave Bun running (and holding this worker's stdout pipe open).
const bun = fileURLToPath(new URL('../node_modules/bun/bin/bun.exe', import.meta.url))
const script = fileURLToPath(new URL('./support-runtimes/web-server.ts', import.meta.url))

describe('on Bun', () => {
  let child: ChildProcess
  let url: string
  /** A server whose idle timeout is 1 s. */
  let idleUrl: string
  /** What Bun printed on stderr: a deliberate cut-off prints nothing. */
  let stderr = ''

  beforeAll(async () => {
    if (!existsSync(bun)) {
      throw new Error(
        'bun is not installed: run `pnpm install` (bun is a devDependency of packages/conformance)',
      )
    }
    child = spawn(bun, [script], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const lines = createInterface({ input: child.stdout! })
    const ports = await new Promise<{ port: number; idlePort: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bun did not start within 15 s')), 15_000)
      lines.once('line', (line) => {
        clearTimeout(timer)
        resolve(JSON.parse(line) as { port: number; idlePort: number })
      })
      child.once('exit', (code) => reject(new Error(`bun exited with ${code}: ${stderr}`)))
    })
    url = `http://127.0.0.1:${ports.port}`
    idleUrl = `http://127.0.0.1:${ports.idlePort}`
  })

  afterAll(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  })

  webRouteTests(() => url)

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

  test("a quiet c.sse() stream outlives Bun's idle timeout, kept alive by its heartbeat", async () => {
    const client = await fetchSse(`${idleUrl}/quiet`)
    expect(await client.reader.waitForEvents(1)).toEqual([{ data: 'open' }])
    const opened = performance.now()
    // The idle timeout is 1 s (Bun checks it every 4 s), the heartbeat 6 s: the heartbeat
    // arrives on a live stream.
    await waitFor(() => client.reader.text.endsWith(':\n\n'), 9000, 'the heartbeat')
    expect(performance.now() - opened).toBeGreaterThan(5000)
    expect(client.reader.text).toBe(':\n\ndata: open\n\n:\n\n')
    expect(client.reader.done).toBe(false)
    await client.abort()
  })

  test('cuts a client that never reads off quietly: it gets the head, what was accepted, then the end', async () => {
    const { port } = new URL(idleUrl)
    const before = stderr
    const slow = await RawClient.send(Number(port), rawGet('/firehose'))
    slow.socket.pause()
    const metrics = async () =>
      (await (await fetch(`${idleUrl}/metrics`)).json()) as { slowClientsDropped: number }
    await waitFor(async () => (await metrics()).slowClientsDropped === 1, 10_000, 'the cut-off')
    slow.socket.resume()
    const bytes = await slow.waitForBytes((b) => b.includes('\r\n0\r\n\r\n'), 10_000)
    const { head, body } = splitResponse(bytes)
    expect(head).toMatch(/^HTTP\/1\.1 200 /)
    const collector = new SseCollector()
    collector.feed(new TextDecoder().decode(body))
    expect(collector.events.length).toBeGreaterThan(0)
    expect(collector.events.map((e) => e.id)).toEqual(collector.events.map((_, i) => String(i + 1)))
    slow.destroy()
    expect(stderr.slice(before.length)).toBe('')
  })
})
