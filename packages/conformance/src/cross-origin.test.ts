/**
 * Cross-origin with credentials, in a real browser, through every adapter: a page on its own
 * origin opens `new EventSource(url, { withCredentials: true })`, its cookie reaches the
 * route's `authorize`, and the `headers` option's CORS headers (the page's exact origin, and
 * `Access-Control-Allow-Credentials: true`) let the page read both the stream and a 401.
 * Without them, the same answers reach the browser and the page can read neither.
 */
import type { EventStream } from '@ssekit/core'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startServer, type TestServer, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { browser, closeBrowser } from './support-channels/browser.js'
import { Cleanup, get, headerOf, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => closeBrowser())

const COOKIE = { name: 'session', value: 'good' }

/** What `authorize` saw of one request. */
interface Attempt {
  accept: string | undefined
  cookie: string | undefined
}

/** What the server saw: every request `authorize` judged, and what each `send` returned. */
interface Seen {
  attempts: Attempt[]
  sent: boolean[]
}

/** A blank page on its own port: another origin than the app's. */
async function startPages(): Promise<TestServer<unknown>> {
  const pages = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><meta charset="utf-8"><title>ssekit cross-origin</title>')
  })
  cleanup.add(() => pages.close())
  return pages
}

/**
 * The app: `/private` sends two events to a request whose cookie is `session=good`;
 * `authorize` refuses one without the cookie with 401. Records what it saw in `seen`.
 */
async function startPrivateApp(
  adapter: (typeof adapters)[number],
  headers: Record<string, string>,
): Promise<{ url: string; seen: Seen }> {
  const seen: Seen = { attempts: [], sent: [] }
  const app = await startApp(
    cleanup,
    adapter,
    [
      get(
        '/private',
        (stream: EventStream, request) => {
          void (async () => {
            seen.sent.push(await stream.send({ data: `hello, ${request.headers.cookie}` }))
            seen.sent.push(await stream.send({ event: 'message', data: 'second\nline' }))
          })()
        },
        {
          authorize: (context) => {
            const cookie = headerOf(context, 'cookie')
            seen.attempts.push({ accept: headerOf(context, 'accept'), cookie })
            return cookie === `${COOKIE.name}=${COOKIE.value}` ? true : 401
          },
        },
      ),
    ],
    // A reconnect loop would show at once.
    { heartbeat: false, retry: 100, headers },
  )
  return { url: `${app.url}/private`, seen }
}

/**
 * The page, in a fresh browser context (its own cookie jar), with the session cookie set for
 * `appUrl` when `withCookie`; `console` collects the page's console errors.
 */
async function openPage(
  pages: TestServer<unknown>,
  appUrl: string,
  withCookie: boolean,
): Promise<{ page: Page; context: BrowserContext; console: string[] }> {
  const context = await (await browser()).newContext()
  cleanup.add(() => context.close())
  // Cookies do not isolate by port: this one is sent to 127.0.0.1 on any port, the app's too.
  if (withCookie) await context.addCookies([{ ...COOKIE, url: new URL(appUrl).origin }])
  const page = await context.newPage()
  const console: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') console.push(message.text())
  })
  await page.goto(pages.url('/'))
  return { page, context, console }
}

/** Opens the credentialed EventSource in the page; it logs into `window.sseLog`. */
async function openEventSource(page: Page, url: string): Promise<void> {
  await page.evaluate((src) => {
    const w = window as unknown as { sseLog: string[]; source: EventSource }
    w.sseLog = []
    const source = new EventSource(src, { withCredentials: true })
    source.onopen = () => w.sseLog.push('open')
    source.onmessage = (event) => w.sseLog.push(`message:${event.data}`)
    source.onerror = () => w.sseLog.push(`error:${source.readyState}`)
    w.source = source
  }, url)
}

function sseLog(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { sseLog: string[] }).sseLog)
}

function readyState(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { source: EventSource }).source.readyState)
}

/** What the page's own script can learn from a credentialed fetch of `url`. */
function fetchFromPage(page: Page, url: string): Promise<string> {
  return page.evaluate(async (src) => {
    try {
      const response = await fetch(src, { credentials: 'include' })
      return `${response.status} ${await response.text()}`
    } catch (error) {
      return `unreadable: ${(error as Error).name}`
    }
  }, url)
}

/** Waits until the page's EventSource has given up (CLOSED). */
async function waitForGiveUp(page: Page): Promise<void> {
  await page.waitForFunction(
    () => (window as unknown as { source: EventSource }).source.readyState === 2,
    undefined,
    { timeout: 10_000 },
  )
}

describe.each(adapters)('$name', (adapter) => {
  it("delivers a credentialed EventSource's events to a page on another origin, and the cookie to authorize", async () => {
    const pages = await startPages()
    const origin = new URL(pages.url()).origin
    const { url, seen } = await startPrivateApp(adapter, {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
    })
    expect(new URL(url).origin).not.toBe(origin)
    const { page, console } = await openPage(pages, url, true)
    await openEventSource(page, url)
    await page.waitForFunction(
      () => (window as unknown as { sseLog: string[] }).sseLog.length >= 3,
      undefined,
      { timeout: 10_000 },
    )
    expect(await sseLog(page)).toEqual([
      'open',
      'message:hello, session=good',
      'message:second\nline',
    ])
    expect(await readyState(page)).toBe(1)
    expect(seen.attempts).toEqual([{ accept: 'text/event-stream', cookie: 'session=good' }])
    expect(seen.sent).toEqual([true, true])
    expect(console).toEqual([])
  })

  it('refuses a request without the cookie with a 401 that the page can read, and the EventSource gives up', async () => {
    const pages = await startPages()
    const origin = new URL(pages.url()).origin
    const { url, seen } = await startPrivateApp(adapter, {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
    })
    const { page } = await openPage(pages, url, false)
    await openEventSource(page, url)
    await waitForGiveUp(page)
    expect(await sseLog(page)).toEqual(['error:2'])
    // The EventSource cannot say why; the page's fetch can: the 401 is readable cross-origin.
    expect(await fetchFromPage(page, url)).toBe('401 Unauthorized')
    // One attempt by the EventSource, one by the fetch: no reconnect in between.
    expect(seen.attempts).toEqual([
      { accept: 'text/event-stream', cookie: undefined },
      { accept: '*/*', cookie: undefined },
    ])
    // Refused before it opened: nothing sent to either.
    await waitFor(() => seen.sent.length === 4, 5000, 'every send settled')
    expect(seen.sent).toEqual([false, false, false, false])
    expect(await readyState(page)).toBe(2)
  })

  describe.each<{ without: string; headers: (origin: string) => Record<string, string> }>([
    { without: 'any CORS header', headers: () => ({}) },
    {
      without: 'the exact origin (a wildcard)',
      headers: () => ({
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
      }),
    },
    {
      without: 'Access-Control-Allow-Credentials',
      headers: (origin) => ({ 'access-control-allow-origin': origin }),
    },
  ])('without $without', ({ headers }) => {
    it('the page can read neither the stream nor the 401, though the server answered both', async () => {
      const pages = await startPages()
      const origin = new URL(pages.url()).origin
      const { url, seen } = await startPrivateApp(adapter, headers(origin))

      // With the cookie: admitted, and the first event sent, but the browser withholds it.
      const opened = await openPage(pages, url, true)
      const { page } = opened
      await openEventSource(page, url)
      await waitForGiveUp(page)
      expect(await sseLog(page)).toEqual(['error:2'])
      expect(seen.attempts).toEqual([{ accept: 'text/event-stream', cookie: 'session=good' }])
      await waitFor(() => seen.sent.length === 2, 5000, 'both sends settled')
      expect(seen.sent[0]).toBe(true)
      // Chromium says why in the console, which the page's script cannot read.
      await waitFor(
        () => opened.console.some((line) => line.includes('blocked by CORS policy')),
        5000,
        'the CORS error in the console',
      )

      // Without it: refused with 401, and the page cannot tell that from a network error.
      await opened.context.clearCookies()
      await openEventSource(page, url)
      await waitForGiveUp(page)
      expect(await sseLog(page)).toEqual(['error:2'])
      expect(await fetchFromPage(page, url)).toBe('unreadable: TypeError')
      await waitFor(() => seen.attempts.length === 3, 5000, 'three attempts')
      expect(seen.attempts.slice(1)).toEqual([
        { accept: 'text/event-stream', cookie: undefined },
        { accept: '*/*', cookie: undefined },
      ])
    })
  })
})
