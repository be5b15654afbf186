/**
 * The multi-instance example as a user runs it: `pnpm --filter @ssekit/example-multi-instance
 * start` (Redis, two instances, nginx), the page in a headless Chromium, and a `kill -9` of
 * the instance the page is connected to.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { CHROMIUM, CHROMIUM_ARGS, startDemo, until as waitUntil } from '../shared/demo-test.js'

interface Hello {
  instance: string
  framework: string
  pid: number
  lastEventId: string | null
}
interface DemoState {
  connections: Hello[]
  events: { id: string; text: string; via: string; replayed: boolean }[]
  duplicates: number
  gaps: number
}

let app: ChildProcess
let output = ''
let url: string
let browser: Browser | undefined

/** Resolves once `predicate` holds, polling; rejects after `ms` with the example's output. */
const until = <T>(
  predicate: () => Promise<T | false | null | undefined>,
  ms: number,
  what: string,
) => waitUntil(predicate, ms, what, () => output)

const state = (page: Page) => page.evaluate(() => (window as unknown as { demo: DemoState }).demo)

async function publish(text: string): Promise<string> {
  const response = await fetch(`${url}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  })
  expect(response.status).toBe(201)
  return ((await response.json()) as { id: string }).id
}

/** Publishes through the page's own form; resolves to the id the server answered. */
async function publishFromPage(page: Page, text: string): Promise<string> {
  await page.fill('#publish input', text)
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/publish')),
    page.click('#publish button'),
  ])
  expect(response.status()).toBe(201)
  return ((await response.json()) as { id: string }).id
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

/** True while process `pid` (or, negative, any process of that group) exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
const groupAlive = () => alive(-app.pid!)

beforeAll(async () => {
  ;({ app, url } = await startDemo({
    filter: '@ssekit/example-multi-instance',
    banner: /ssekit multi-instance example: (http:\/\/\S+)/,
    ms: 90_000,
    onOutput: (chunk) => {
      output += chunk
    },
    output: () => output,
  }))
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  if (app?.pid !== undefined && groupAlive()) {
    process.kill(-app.pid, 'SIGKILL')
  }
})

test('the page keeps every event exactly once, in order, when the instance serving it is killed', async () => {
  const page = await browser!.newPage()
  await page.goto(url)
  const first = await until(async () => (await state(page)).connections[0], 10_000, 'hello')
  expect(first.lastEventId).toBe(null)

  const before = [
    await publishFromPage(page, 'before 1'),
    await publish('before 2'),
    await publishFromPage(page, 'before 3'),
  ]
  await until(async () => (await state(page)).events.length === 3, 10_000, '3 events')

  // The instance behind the page's EventSource dies (the page's button: it SIGKILLs itself);
  // nginx sends what follows elsewhere.
  const [crash] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/instance/${first.instance}/crash`)),
    page.click('#crash'),
  ])
  expect(await crash.json()).toEqual({
    instance: first.instance,
    framework: first.framework,
    pid: first.pid,
  })
  // Until it is gone, nginx could still hand it a request that then fails (a 502 for a POST,
  // which nginx does not resend); a connection refused goes to the other instance.
  await until(async () => !alive(first.pid), 5000, 'the killed instance gone')
  const away = [await publish('while away 1'), await publish('while away 2')]
  const second = await until(
    async () => (await state(page)).connections[1],
    15_000,
    'the page reconnected',
  )
  const after = [await publishFromPage(page, 'after 1'), await publish('after 2')]
  const all = [...before, ...away, ...after]
  const seen = await until(
    async () => {
      const s = await state(page)
      return s.events.length >= all.length && s
    },
    10_000,
    `${all.length} events`,
  )

  expect(second.pid).not.toBe(first.pid)
  expect(second.lastEventId).toBe(before.at(-1))
  expect(seen.events.map((e) => e.id)).toEqual(all)
  expect(seen.events.map((e) => e.text)).toEqual([
    'before 1',
    'before 2',
    'before 3',
    'while away 1',
    'while away 2',
    'after 1',
    'after 2',
  ])
  expect(seen.events.map((e) => e.replayed)).toEqual([
    false,
    false,
    false,
    true,
    true,
    false,
    false,
  ])
  expect({ duplicates: seen.duplicates, gaps: seen.gaps }).toEqual({ duplicates: 0, gaps: 0 })
  expect(output).toContain(`exited (SIGKILL); starting it again in 1 s`)
  await page.close()
}, 60_000)

test('Ctrl-C stops nginx, Redis and both instances', async () => {
  const ports = [...output.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))
  expect(ports.length).toBeGreaterThanOrEqual(4)
  process.kill(-app.pid!, 'SIGINT')
  await until(async () => !groupAlive(), 10_000, 'every process of the example gone')
  for (const port of ports) expect(await refuses(port)).toBe(true)
  expect(output).toContain('SIGINT: stopping nginx, the instances and Redis')
  const dir = /nginx configuration and logs: (\S+)/.exec(output)![1]!
  expect(existsSync(dir)).toBe(false)
}, 20_000)
