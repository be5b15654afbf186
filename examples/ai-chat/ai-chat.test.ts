/**
 * The AI chat as a user runs it: `pnpm --filter @ssekit/example-ai-chat start` on a free
 * port, the page in a headless Chromium (real tabs of one browser context, so Web Locks and
 * BroadcastChannel are shared between them), and the server's own account of what it saw
 * (`GET /stats`).
 */
import type { ChildProcess } from 'node:child_process'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { CHROMIUM, CHROMIUM_ARGS, startDemo, until as waitUntil } from '../shared/demo-test.js'
import { cannedAnswer, type Transcript } from './answer.js'
import type { RequestRecord, Stats } from './server.js'

/** What the page tells of one answer (`window.chat.turns[i]`). */
interface TurnState {
  id: string
  prompt: string
  status: 'waiting' | 'streaming' | 'done' | 'stopped' | 'failed'
  url: string | undefined
  text: string
  tokens: { id: string; data: string }[]
  usage: number | undefined
  error: string | undefined
  live: number
  filled: number
  dropped: number
  lastEventId: string
  closed: string | undefined
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

const stats = async () => (await (await fetch(`${url}/stats`)).json()) as Stats

/** Waits, bounded, until the page's first answer `t` satisfies `test` (an expression); resolves to it. */
async function turnWhen(page: Page, test: string, ms: number): Promise<TurnState> {
  const handle = await page.waitForFunction(
    (body) => {
      const turn = (window as unknown as { chat?: { turns: TurnState[] } }).chat?.turns[0]
      return turn !== undefined && new Function('t', `return ${body}`)(turn) ? turn : false
    },
    test,
    { timeout: ms, polling: 20 },
  )
  return (await handle.jsonValue()) as TurnState
}

/** Asks `prompt` from the page's form; resolves to the answer's id. */
async function ask(page: Page, prompt: string): Promise<string> {
  await page.fill('#prompt', prompt)
  await page.click('#send')
  return (await turnWhen(page, 't.id !== undefined', 5000)).id
}

/** The place of an event in its log: ids are `<epoch>-<seq>`. */
const seq = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1))
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** The stream requests the server saw for answer `id`, with their Last-Event-ID. */
const streamsOf = (s: Stats, id: string) =>
  s.requests
    .filter((r) => r.answer === id && r.method !== 'DELETE')
    .map((r) => `${r.method} ${r.path}${r.lastEventId === null ? '' : ` @${r.lastEventId}`}`)

beforeAll(async () => {
  ;({ app, url } = await startDemo({
    filter: '@ssekit/example-ai-chat',
    banner: /ssekit AI chat example: (http:\/\/\S+)/,
    ms: 60_000,
    env: { PORT: '0' },
    onOutput: (chunk) => {
      output += chunk
    },
    output: () => output,
  }))
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
}, 90_000)

afterAll(async () => {
  await browser?.close()
  if (app?.pid !== undefined && groupAlive()) process.kill(-app.pid, 'SIGKILL')
})

/** True while any process of the example's group exists. */
function groupAlive(): boolean {
  try {
    process.kill(-app.pid!, 0)
    return true
  } catch {
    return false
  }
}

test('a reload in the middle of an answer shows it whole from its start and goes on live: every token once, in order; one POST, one model run', async () => {
  const prompt = 'Tell me a story about a reload'
  const canned = cannedAnswer(prompt)
  const context = await browser!.newContext()
  const page = await context.newPage()
  await page.goto(url)
  const id = await ask(page, prompt)
  const before = await turnWhen(page, 't.tokens.length >= 10', 10_000)
  // The POST's Content-Location, kept for the reload.
  expect(before.url).toBe(`${url}/answers/${id}`)
  const kept = await page.evaluate(() => sessionStorage.getItem('ssekit-ai-chat'))
  expect(JSON.parse(kept!).turns[0]).toMatchObject({ id, prompt, url: `${url}/answers/${id}` })

  await page.reload()
  const after = await turnWhen(page, "t.status === 'done'", 15_000)
  expect(after.text).toBe(canned.text)
  expect(after.tokens.map((t) => t.data)).toEqual(canned.tokens)
  expect(after.tokens.map((t) => seq(t.id))).toEqual(oneTo(canned.tokens.length))
  expect(after.usage).toBe(canned.tokens.length)
  expect(after.dropped).toBe(0)
  expect(await page.textContent(`[data-answer="${id}"] .text`)).toBe(canned.text)

  // The reconnect after the end carries the last id and is answered 204: the client stops.
  const s = await until(
    async () => {
      const s = await stats()
      return streamsOf(s, id).length === 3 && s
    },
    10_000,
    'the reconnect after the end',
  )
  expect(streamsOf(s, id)).toEqual([
    'POST /answers',
    `GET /answers/${id}`, // the reload: from the start, no Last-Event-ID
    `GET /answers/${id} @${after.lastEventId}`,
  ])
  const reload = s.requests.filter((r) => r.answer === id)[1]!
  // The page came back while the model was still at it: part replayed, the rest live.
  expect(reload.published).toBeGreaterThanOrEqual(10)
  expect(reload.published).toBeLessThan(canned.tokens.length)
  expect(s.answers[id]).toMatchObject({
    modelRuns: 1,
    outcome: 'done',
    published: canned.tokens.length,
    producing: false,
  })
  expect((await turnWhen(page, "t.closed === 'done'", 5000)).closed).toBe('done')
  await context.close()
}, 40_000)

test('two tabs of one answer share one connection; when the tab holding it closes, the other takes over from its last id: the whole answer, nothing lost or doubled', async () => {
  const prompt = 'Tell me a story'
  const canned = cannedAnswer(prompt)
  // One context: its tabs share Web Locks and BroadcastChannel, as a browser profile's do.
  const context = await browser!.newContext()
  const first = await context.newPage()
  await first.goto(url)
  const id = await ask(first, prompt)
  await turnWhen(first, 't.tokens.length >= 5', 10_000)

  // The answer's "open in a new tab" link (/?answer=<id>): the second tab reads the
  // beginning from the log and the rest from the first tab's connection.
  const [second] = await Promise.all([
    context.waitForEvent('page'),
    first.click(`[data-answer="${id}"] .meta a`),
  ])
  const joined = await turnWhen(second, 't.live >= 5', 10_000)
  expect(joined.filled).toBeGreaterThanOrEqual(5)
  const s1 = await stats()
  const a = await turnWhen(first, `t.tokens.length >= ${joined.tokens.length}`, 5000)
  expect(streamsOf(s1, id)).toEqual(['POST /answers']) // no stream of the second tab's own
  expect(s1.answers[id]!.openStreams).toBe(1)
  expect(s1.answers[id]!.producing).toBe(true)
  // Both show the same tokens, with the same ids: the answer's beginning.
  expect(joined.tokens).toEqual(a.tokens.slice(0, joined.tokens.length))
  expect(joined.tokens.map((t) => t.data)).toEqual(canned.tokens.slice(0, joined.tokens.length))

  await first.close()
  const takeover = await until(
    async () =>
      (await stats()).requests.find(
        (r): r is RequestRecord & { lastEventId: string } =>
          r.answer === id && r.method === 'GET' && r.lastEventId !== null,
      ),
    10_000,
    'the second tab taking the connection over',
  )
  const b = await turnWhen(second, "t.status === 'done'", 20_000)
  expect(b.text).toBe(canned.text)
  expect(b.tokens.map((t) => t.data)).toEqual(canned.tokens)
  expect(b.tokens.map((t) => seq(t.id))).toEqual(oneTo(canned.tokens.length))
  expect(await second.textContent(`[data-answer="${id}"] .text`)).toBe(canned.text)
  // It resumed from a token it had, while the model was still answering.
  expect(b.tokens.map((t) => t.id)).toContain(takeover.lastEventId)
  expect(takeover.published).toBeLessThan(canned.tokens.length)
  expect(b.live + b.filled).toBe(canned.tokens.length + 1) // the tokens and `done`
  const s2 = await stats()
  expect(streamsOf(s2, id).slice(0, 2)).toEqual([
    'POST /answers',
    `GET /answers/${id} @${takeover.lastEventId}`,
  ])
  expect(s2.answers[id]).toMatchObject({ modelRuns: 1, outcome: 'done' })
  await context.close()
}, 40_000)

test('Stop cancels the answer: it ends early with the error event { reason: "cancelled" }, and the model stops', async () => {
  const prompt = 'Tell me a story, then stop'
  const canned = cannedAnswer(prompt)
  const context = await browser!.newContext()
  const page = await context.newPage()
  await page.goto(url)
  const id = await ask(page, prompt)
  await turnWhen(page, 't.tokens.length >= 5', 10_000)
  await page.click('#stop')
  const stopped = await turnWhen(page, "t.status === 'stopped'", 5000)
  expect(stopped.error).toBe('cancelled')
  expect(await page.textContent(`[data-answer="${id}"] .status`)).toBe(
    `error event: {"reason":"cancelled"} after ${stopped.tokens.length} tokens`,
  )
  expect(stopped.tokens.map((t) => t.data)).toEqual(canned.tokens.slice(0, stopped.tokens.length))

  // The producer has returned and the log has ended: nothing can be published any more, and
  // what the model made is exactly what the page shows, short of the whole answer.
  const s = await until(
    async () => {
      const s = await stats()
      return s.answers[id]?.producing === false && s
    },
    5000,
    'the producer stopping',
  )
  expect(s.answers[id]).toMatchObject({
    modelRuns: 1,
    outcome: 'cancelled',
    generated: stopped.tokens.length,
    published: stopped.tokens.length,
  })
  expect(stopped.tokens.length).toBeLessThan(canned.tokens.length)
  expect(s.requests.filter((r) => r.answer === id && r.method === 'DELETE')).toHaveLength(1)
  const log = (await (await fetch(`${url}/answers/${id}/log`)).json()) as Transcript
  expect(log.ended).toBe(true)
  expect(log.events.map((e) => e.id)).toEqual([
    ...stopped.tokens.map((t) => t.id),
    stopped.lastEventId,
  ])
  expect(log.events.at(-1)).toEqual({
    id: stopped.lastEventId,
    event: 'error',
    data: { reason: 'cancelled' },
  })
  // A second Stop finds the answer ended.
  expect((await fetch(`${url}/answers/${id}`, { method: 'DELETE' })).status).toBe(409)
  await context.close()
}, 30_000)

test('answers 404 for an answer that does not exist, and 400 for a POST without a prompt', async () => {
  expect((await fetch(`${url}/answers/no-such-answer`)).status).toBe(404)
  expect((await fetch(`${url}/answers/no-such-answer/log`)).status).toBe(404)
  expect((await fetch(`${url}/answers/no-such-answer`, { method: 'DELETE' })).status).toBe(404)
  const refused = await fetch(`${url}/answers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: '  ' }),
  })
  expect(refused.status).toBe(400)
})

test('Ctrl-C ends the streams and the server', async () => {
  process.kill(-app.pid!, 'SIGINT')
  await until(async () => !groupAlive(), 10_000, 'every process of the example gone')
  expect(output).toContain('SIGINT: closing the streams and the server')
  await expect(fetch(`${url}/stats`)).rejects.toThrow()
}, 20_000)
