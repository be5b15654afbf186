/**
 * Finishing for good. A stream that ends makes a browser `EventSource` reconnect (every
 * `retry` ms, forever). The handler reads the request's Last-Event-ID with the adapter's own
 * `lastEventId()` before it opens a stream, and answers 204 once the client has seen the
 * last event: a real browser then stops.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { closeBrowser, openPage, sseLog, startPageServer } from './support-channels/browser.js'
import { Cleanup, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => closeBrowser())

const CORS = { 'access-control-allow-origin': '*' }

describe.each(adapters)('$name', (adapter) => {
  it('answers 204 to a client that saw the last event, and a browser EventSource stops', async () => {
    const seen: (string | undefined)[] = []
    const app = await startApp(cleanup, adapter, [
      {
        method: 'GET',
        path: '/job',
        headers: CORS,
        options: { heartbeat: false, retry: 50 },
        before: (lastEventId) => {
          seen.push(lastEventId)
          return lastEventId === 'terminé' ? 204 : undefined
        },
        handler: async (stream) => {
          await stream.send({ event: 'welcome', id: 'step-1', data: 'working' })
          // Not ASCII: the browser sends it back as UTF-8, read as Latin-1 by the server.
          await stream.send({ event: 'welcome', id: 'terminé', data: 'finished' })
          stream.close()
        },
      },
    ])
    const pages = await startPageServer()
    cleanup.add(() => pages.close())
    const statuses: number[] = []
    const page = await openPage(pages, `${app.url}/job`, (status) => statuses.push(status))
    cleanup.add(() => page.context().close())
    // CLOSED (2) is what EventSource reaches when it gives up for good.
    await waitFor(
      async () => (await sseLog(page)).includes('error:2'),
      10_000,
      'the browser gave up',
    )
    expect(await sseLog(page)).toEqual([
      'open',
      'welcome:working',
      'welcome:finished',
      'error:0',
      'error:2',
    ])
    expect(seen).toEqual([undefined, 'terminé'])
    expect(statuses).toEqual([200, 204])
    expect(
      await page.evaluate(() => (window as unknown as { source: EventSource }).source.readyState),
    ).toBe(2)
    expect(app.openStreams()).toBe(0)
  })
})
