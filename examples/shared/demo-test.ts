/**
 * For the tests that start an example as a user would (`pnpm demo:multi`, `pnpm demo:ai`)
 * and drive its page in Chromium: the browser's path and flags, a poll with a deadline, and
 * the start of the example in its own process group.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Resolves once `predicate` gives something truthy, polling; rejects after `ms`, naming
 * `what` and adding `context()` (the example's output, say).
 */
export async function until<T>(
  predicate: () => Promise<T | false | null | undefined>,
  ms: number,
  what: string,
  context: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await predicate()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${context()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Starts `pnpm --filter <filter> start` in its own process group, as in a terminal (Ctrl-C,
 * SIGINT, goes to every process in it), and resolves with its URL once it prints `banner`
 * (whose first group is the URL). Fails, never skips, when Chromium is missing.
 */
export async function startDemo(options: {
  filter: string
  banner: RegExp
  ms: number
  env?: Record<string, string>
  onOutput: (chunk: string) => void
  output: () => string
}): Promise<{ app: ChildProcess; url: string }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}; this test drives the page in a real browser. Install it with: apt-get install -y chromium`,
    )
  }
  const app = spawn('pnpm', ['--filter', options.filter, 'start'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  app.stdout!.on('data', (chunk) => options.onOutput(String(chunk)))
  app.stderr!.on('data', (chunk) => options.onOutput(String(chunk)))
  const failed = new Promise<never>((_, reject) => {
    app.once('error', (error) =>
      reject(new Error(`pnpm could not be started (is pnpm installed?): ${error.message}`)),
    )
    app.once('exit', (code) =>
      reject(new Error(`the example exited (${code}):\n${options.output()}`)),
    )
  })
  failed.catch(() => {})
  const started = until(
    async () => options.banner.exec(options.output())?.[1],
    options.ms,
    'the example printing its URL',
    options.output,
  )
  return { app, url: await Promise.race([started, failed]) }
}
