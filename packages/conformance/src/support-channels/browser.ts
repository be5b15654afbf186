/**
 * A headless Chromium for the tests that need a real browser EventSource, and a page
 * server: the page lives on its own origin and opens an EventSource to the app under
 * test (which answers with `Access-Control-Allow-Origin: *` through the `headers` option).
 */
import { existsSync } from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'
import { startServer, type TestServer } from '../../../core/src/test-utils/index.js'

export const CHROMIUM = '/usr/bin/chromium'

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

let launching: Promise<Browser> | undefined

/** The shared browser, launched on first use. Fails (never skips) when Chromium is missing. */
export function browser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}; these tests need a real browser EventSource. Install it with: apt-get install -y chromium`,
    )
  }
  launching ??= chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
  return launching
}

/** Closes the shared browser if it was launched. */
export async function closeBrowser(): Promise<void> {
  const launched = launching
  launching = undefined
  if (launched !== undefined) await (await launched).close()
}

/**
 * The page: an EventSource on `?src=`, logging `open`, `error:<readyState>` and every
 * `welcome` event into `window.sseLog`.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>ssekit admission</title>
<script>
  window.sseLog = []
  const source = new EventSource(new URL(location.href).searchParams.get('src'))
  source.onopen = () => window.sseLog.push('open')
  source.onerror = () => window.sseLog.push('error:' + source.readyState)
  source.addEventListener('welcome', (event) => window.sseLog.push('welcome:' + event.data))
  window.source = source
</script>`

/** Serves the page on its own port. */
export function startPageServer(): Promise<TestServer<import('node:http').Server>> {
  return startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(PAGE)
  })
}

/**
 * Opens the page in a fresh context, with its EventSource on `src`; `onStatus` hears the
 * status of every response from `src`'s origin, from the first.
 */
export async function openPage(
  pages: TestServer<unknown>,
  src: string,
  onStatus?: (status: number) => void,
): Promise<Page> {
  const context = await (await browser()).newContext()
  const page = await context.newPage()
  const origin = new URL(src).origin
  page.on('response', (response) => {
    if (new URL(response.url()).origin === origin) onStatus?.(response.status())
  })
  await page.goto(pages.url(`/?src=${encodeURIComponent(src)}`))
  return page
}

/** What the page's EventSource logged so far. */
export function sseLog(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { sseLog: string[] }).sseLog)
}
