/**
 * Core's Web transport and the Hono adapter on Cloudflare Workers, run by workerd (the
 * runtime Workers deploy on, as the `workerd` npm package ships it) with a config this test
 * writes: one module Worker, bundled by esbuild for the `neutral` platform (a runtime
 * `node:` import would fail the bundle), at the compatibility date of the installed workerd,
 * on an HTTP socket at a port workerd picks and reports on its control descriptor. Everything workerd prints on stderr is kept: a Worker that writes on behalf
 * of another request, or that workerd takes for hung, shows there.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fetchSse, type SseFetch, waitFor } from '../../core/src/test-utils/index.js'
import { within } from './support/harness.js'
import { FIRST_EVENT_WEB } from './support-runtimes/first-event.js'
import {
  bundle,
  measureFirstEvent,
  RuntimeProcess,
  type TempDir,
  tempDir,
  workerdBinary,
} from './support-runtimes/processes.js'
import { webRouteTests } from './support-runtimes/web-route-tests.js'

const script = fileURLToPath(new URL('./support-runtimes/workerd-worker.ts', import.meta.url))

/** What workerd prints when a request is cancelled, or written to from another request. */
const HUNG = /your Worker's code had hung/
const CROSS_REQUEST = /different request context/

/** A workerd config: one Worker, one HTTP socket on 127.0.0.1, port chosen by workerd. */
function config(compatibilityDate: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${compatibilityDate}",
);
`
}

describe('on Cloudflare Workers (workerd)', () => {
  let workerd: RuntimeProcess
  let dir: TempDir
  let url: string
  let version: string

  beforeAll(async () => {
    const binary = workerdBinary()
    version = binary.version
    dir = tempDir('ssekit-workerd-')
    await bundle(script, join(dir.path, 'worker.js'), 'neutral')
    // The compatibility date of the installed workerd: what a Worker deployed today gets.
    writeFileSync(join(dir.path, 'config.capnp'), config(binary.compatibilityDate))
    const started = await RuntimeProcess.start(
      'workerd',
      binary.path,
      ['serve', '--control-fd=3', join(dir.path, 'config.capnp')],
      { portOn: 'fd3' },
    )
    workerd = started.process
    url = `http://127.0.0.1:${started.info.port}`
  })

  afterAll(async () => {
    await workerd?.stop()
    dir?.remove()
  })

  const metrics = async () =>
    (await (await fetch(`${url}/metrics`)).json()) as {
      openStreams: number
      subscribers: number
      errors: string[]
    }

  webRouteTests(() => url)

  test('a publish in one request reaches the stream of another (one isolate), resumes after Last-Event-ID, and a client that leaves is let go', async () => {
    const before = workerd.stderr.length
    const publish = async (data: unknown) =>
      (
        (await (
          await fetch(`${url}/publish`, { method: 'POST', body: JSON.stringify(data) })
        ).json()) as { id: string }
      ).id
    const first = await within(fetchSse(`${url}/news`), 5000, 'workerd: the headers of /news')
    await waitFor(async () => (await metrics()).subscribers === 1, 5000, 'the subscription')
    const id1 = await publish({ n: 1 })
    const id2 = await publish({ n: 2 })
    expect(await first.reader.waitForEvents(2)).toEqual([
      { event: 'news', id: id1, data: '{"n":1}' },
      { event: 'news', id: id2, data: '{"n":2}' },
    ])
    // Exact frames; the heartbeat (500 ms here) may put comments between them.
    expect(first.reader.text.startsWith(':\n\n')).toBe(true)
    expect(first.reader.text.replaceAll(':\n\n', '')).toBe(
      `event: news\nid: ${id1}\ndata: {"n":1}\n\nevent: news\nid: ${id2}\ndata: {"n":2}\n\n`,
    )
    await first.abort()
    // workerd notices a client that left when the stream next writes: its heartbeat.
    await waitFor(
      async () => {
        const m = await metrics()
        return m.openStreams === 0 && m.subscribers === 0
      },
      5000,
      'workerd: the stream of a gone client closes',
    )
    const resumed = await fetchSse(`${url}/news`, { headers: { 'last-event-id': id1 } })
    expect(await resumed.reader.waitForEvents(1)).toEqual([
      { event: 'news', id: id2, data: '{"n":2}' },
    ])
    expect(resumed.reader.text.replaceAll(':\n\n', '')).toBe(
      `event: news\nid: ${id2}\ndata: {"n":2}\n\n`,
    )
    await resumed.abort()
    await waitFor(async () => (await metrics()).openStreams === 0, 5000, 'the resumed one too')
    expect((await metrics()).errors).toEqual([])
    expect(workerd.stderr.slice(before)).toBe('')
  })

  test('five idle streams opened one after another all stay open and all get their own heartbeats', async () => {
    const before = workerd.stderr.length
    const opening = (n: number) => `:\n\nid: ${n}\ndata: open\n\n`
    const clients: SseFetch[] = []
    try {
      for (let n = 0; n < 5; n++) {
        const client = await fetchSse(`${url}/sse/idle?n=${n}&heartbeat=300`)
        await client.reader.waitForEvents(1)
        clients.push(client)
      }
      await waitFor(async () => (await metrics()).openStreams === 5, 5000, 'five streams open')
      const beats = (client: SseFetch, n: number) =>
        client.reader.text.startsWith(opening(n))
          ? client.reader.text.slice(opening(n).length).split(':\n\n').length - 1
          : -1
      // About 3 s of idle streams: ten beats each at 300 ms.
      await waitFor(
        () => clients.every((client, n) => beats(client, n) >= 10),
        10_000,
        'ten heartbeats on each stream',
      ).catch((error: Error) => {
        const got = clients.map((client) => JSON.stringify(client.reader.text)).join(', ')
        throw new Error(`${error.message}; got ${got}; workerd: ${workerd.stderr.slice(before)}`)
      })
      for (const [n, client] of clients.entries()) {
        expect(client.reader.done).toBe(false)
        expect(client.reader.error).toBeUndefined()
        // The opening, then nothing but heartbeat comments.
        expect(client.reader.text).toBe(opening(n) + ':\n\n'.repeat(beats(client, n)))
      }
      expect((await metrics()).openStreams).toBe(5)
    } finally {
      for (const client of clients) await client.abort()
    }
    await waitFor(async () => (await metrics()).openStreams === 0, 5000, 'all five let go')
    const printed = workerd.stderr.slice(before)
    expect(printed).not.toMatch(HUNG)
    expect(printed).not.toMatch(CROSS_REQUEST)
    expect(printed).toBe('')
  })

  test('measures the first-event latency', async () => {
    const p50 = await measureFirstEvent(`workerd ${version}`, `${url}/first`, FIRST_EVENT_WEB)
    expect(p50).toBeLessThan(1000)
  })

  // Last: the stream workerd cancels stays counted in the isolate (see the report).
  test('a stream with no heartbeat that only other requests write to is cancelled by workerd as hung', async () => {
    const before = workerd.stderr.length
    const client = await fetchSse(`${url}/sse/lonely`)
    await within(client.reader.finished, 5000, 'workerd cancelling the lonely stream')
    expect(client.reader.text).toBe(':\n\n')
    expect(String(client.reader.error)).toMatch(/terminated/)
    await waitFor(() => HUNG.test(workerd.stderr.slice(before)), 5000, 'the hung message')
  })
})
