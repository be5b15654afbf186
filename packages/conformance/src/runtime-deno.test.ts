/**
 * Core's Web transport and the Hono adapter on Deno, served by `Deno.serve`. The server
 * script (support-runtimes/deno-server.ts) is bundled by esbuild into one ESM file for the
 * `neutral` platform, where nothing of Node exists: a runtime `node:` import anywhere on the
 * Fetch path would fail the bundle. Deno runs it with network access to 127.0.0.1 only (no
 * environment, no files).
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fetchSse, waitFor } from '../../core/src/test-utils/index.js'
import { within } from './support/harness.js'
import { FIRST_EVENT_WEB } from './support-runtimes/first-event.js'
import {
  bundle,
  denoBinary,
  measureFirstEvent,
  RuntimeProcess,
  type TempDir,
  tempDir,
} from './support-runtimes/processes.js'
import { webRouteTests } from './support-runtimes/web-route-tests.js'

const script = fileURLToPath(new URL('./support-runtimes/deno-server.ts', import.meta.url))

/**
 * Deno 2.9 prints this once per process when a handler reads `request.signal` (the Web
 * transport does, to learn that the client left) and its response then completes: the
 * signal also aborts on success, as it always did, until `--unstable-no-legacy-abort`
 * becomes the default. Nothing else may appear on Deno's stderr.
 */
const LEGACY_ABORT_NOTICE =
  /^Deno\.serve: request\.signal aborts on successful responses \(legacy behavior\)\..*\n/m

describe('on Deno', () => {
  let deno: RuntimeProcess
  let dir: TempDir
  let url: string
  let version: string

  beforeAll(async () => {
    const binary = denoBinary()
    dir = tempDir('ssekit-deno-')
    const bundled = join(dir.path, 'server.mjs')
    await bundle(script, bundled, 'neutral')
    const started = await RuntimeProcess.start('deno', binary, [
      'run',
      '--no-prompt',
      '--allow-net=127.0.0.1',
      bundled,
    ])
    deno = started.process
    url = `http://127.0.0.1:${started.info.port}`
    version = String(started.info.version)
  })

  afterAll(async () => {
    await deno?.stop()
    dir?.remove()
  })

  const metrics = async () =>
    (await (await fetch(`${url}/metrics`)).json()) as { openStreams: number }

  webRouteTests(() => url)

  test('a quiet c.sse() stream gets its heartbeat comment', async () => {
    const client = await fetchSse(`${url}/sse/beat`)
    await waitFor(() => client.reader.text.length > ':\n\ndata: open\n\n'.length, 5000, 'a beat')
    expect(client.reader.text).toBe(':\n\ndata: open\n\n:\n\n')
    await client.abort()
  })

  test('a channel broadcasts, replays after Last-Event-ID, and notices a client leaving', async () => {
    const publish = async (data: unknown) =>
      (
        (await (
          await fetch(`${url}/publish`, { method: 'POST', body: JSON.stringify(data) })
        ).json()) as { id: string }
      ).id
    const first = await within(fetchSse(`${url}/news`), 5000, 'Deno: the headers of /news')
    await waitFor(async () => (await metrics()).openStreams === 1, 5000, 'the stream counted')
    const id1 = await publish({ n: 1 })
    const id2 = await publish({ n: 2 })
    expect(await first.reader.waitForEvents(2)).toEqual([
      { event: 'news', id: id1, data: '{"n":1}' },
      { event: 'news', id: id2, data: '{"n":2}' },
    ])
    expect(first.reader.text).toBe(
      `:\n\nevent: news\nid: ${id1}\ndata: {"n":1}\n\nevent: news\nid: ${id2}\ndata: {"n":2}\n\n`,
    )
    await first.abort()
    await waitFor(
      async () => (await metrics()).openStreams === 0,
      5000,
      'Deno: the stream of a gone client closes',
    )
    const resumed = await fetchSse(`${url}/news`, { headers: { 'last-event-id': id1 } })
    expect(await resumed.reader.waitForEvents(1)).toEqual([
      { event: 'news', id: id2, data: '{"n":2}' },
    ])
    expect(resumed.reader.text).toBe(`:\n\nevent: news\nid: ${id2}\ndata: {"n":2}\n\n`)
    await resumed.abort()
    await waitFor(async () => (await metrics()).openStreams === 0, 5000, 'the resumed one too')
  })

  test('measures the first-event latency', async () => {
    const p50 = await measureFirstEvent(`deno ${version}`, `${url}/first`, FIRST_EVENT_WEB)
    expect(p50).toBeLessThan(1000)
  })

  // Last: it ends the process.
  test('shutdown: close() and route.streams.close() end the streams with retry:, then Deno exits by itself', async () => {
    const quiet = await fetchSse(`${url}/sse/quiet`)
    const news = await fetchSse(`${url}/news`)
    await quiet.reader.waitForEvents(1)
    await waitFor(async () => (await metrics()).openStreams === 2, 5000, 'both streams counted')
    deno.child.kill('SIGTERM')
    expect(await quiet.reader.readToEnd()).toBe(':\n\ndata: open\n\nretry: 2000\n\n')
    expect(await news.reader.readToEnd()).toBe(':\n\nretry: 3000\n\n')
    // server.shutdown() resolved (it waits for every response) and nothing kept Deno alive.
    expect(await within(deno.exited, 5000, 'Deno exiting after shutdown')).toBe(0)
    expect(deno.stdout).toBe('shut down\n')
    expect(deno.stderr.replace(LEGACY_ABORT_NOTICE, '')).toBe('')
  })
})
