/**
 * Admission control through every adapter: `maxStreams` and a channel's `maxSubscribers`
 * turn clients away (200 + jittered `retry:` by default, 503 + Retry-After on request),
 * and `authorize` refuses with 401/403 before any stream opens. A real browser shows that
 * an EventSource turned away by a limit comes back and is admitted once there is room.
 */
import { createChannel, type EventStream, getMetrics, type StreamOptions } from '@ssekit/core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../core/src/test-utils/index.js'
import { adapters, type Route } from './adapters.js'
import { closeBrowser, openPage, sseLog, startPageServer } from './support-channels/browser.js'
import { openSse, type SseHttpClient } from './support-channels/client.js'
import { Cleanup, get, headerOf, startApp } from './support-channels/harness.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
afterAll(() => closeBrowser())

const CORS = { 'access-control-allow-origin': '*' }
const SSE_TYPE = 'text/event-stream; charset=utf-8'

/** Opens a client that is closed after the test. */
async function client(url: string, headers?: Record<string, string>): Promise<SseHttpClient> {
  const opened = await openSse(url, headers)
  cleanup.add(() => opened.close())
  return opened
}

/** A route that greets every admitted stream and records every attempt. */
function welcomeRoute(
  attempts: { at: number; admitted: boolean; agent: string }[],
  options?: StreamOptions,
): Route {
  return get(
    '/events',
    (stream: EventStream, request) => {
      attempts.push({
        at: performance.now(),
        admitted: !stream.closed,
        agent: request.headers['user-agent'] ?? '',
      })
      if (!stream.closed) void stream.send({ event: 'welcome', data: 'admitted' })
    },
    options,
  )
}

/** A refused request's answer: 200, the SSE type, a single `retry:` in range, then the end. */
async function expectRetryRefusal(
  refused: SseHttpClient,
  min: number,
  max: number,
): Promise<number> {
  await refused.waitForEnd()
  expect(refused.status).toBe(200)
  expect(refused.headers['content-type']).toBe(SSE_TYPE)
  const match = /^retry: (\d+)\n\n$/.exec(refused.text)
  expect(match, refused.text).not.toBeNull()
  const ms = Number(match![1])
  expect(ms).toBeGreaterThanOrEqual(min)
  expect(ms).toBeLessThanOrEqual(max)
  return ms
}

describe.each(adapters)('$name', (adapter) => {
  it('turns an over-limit EventSource away with a jittered retry, and admits it once there is room', async () => {
    const attempts: { at: number; admitted: boolean; agent: string }[] = []
    const app = await startApp(cleanup, adapter, [welcomeRoute(attempts)], {
      heartbeat: false,
      maxStreams: 1,
      limitRetry: { ms: 300, jitter: 300 },
      headers: CORS,
    })
    const before = getMetrics()
    const holder = await client(`${app.url}/events`)
    await holder.waitForEvents(1)
    expect(holder.events).toEqual([{ event: 'welcome', data: 'admitted' }])

    // What a refused client gets: 200, a jittered retry, and the end at once.
    const refusedValues: number[] = []
    for (let i = 0; i < 6; i++) {
      refusedValues.push(await expectRetryRefusal(await client(`${app.url}/events`), 300, 600))
    }
    expect(new Set(refusedValues).size).toBeGreaterThan(1)

    const pages = await startPageServer()
    cleanup.add(() => pages.close())
    const statuses: number[] = []
    const page = await openPage(pages, `${app.url}/events`, (status) => statuses.push(status))
    cleanup.add(() => page.context().close())
    const fromBrowser = () => attempts.filter((a) => a.agent.includes('Chrome'))
    // Turned away twice: it came back after the retry it was given, not its own 3 s default.
    await waitFor(() => fromBrowser().length >= 2, 10_000, 'the browser came back')
    const [first, second] = fromBrowser()
    expect([first!.admitted, second!.admitted]).toEqual([false, false])
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(300)
    expect(second!.at - first!.at).toBeLessThan(3000)

    // Make room: the browser is admitted on its next attempt and gets its welcome.
    holder.close()
    await waitFor(() => app.openStreams() === 0, 5000, 'the holder left')
    await page.waitForFunction(
      () => (window as unknown as { sseLog: string[] }).sseLog.includes('welcome:admitted'),
      undefined,
      { timeout: 10_000 },
    )
    const browserAttempts = fromBrowser()
    const refusals = browserAttempts.length - 1
    expect(browserAttempts.map((a) => a.admitted)).toEqual([...Array(refusals).fill(false), true])
    // Each refusal opened and ended the EventSource (then it reconnected); then the welcome.
    expect(await sseLog(page)).toEqual([
      ...Array.from({ length: refusals }, () => ['open', 'error:0']).flat(),
      'open',
      'welcome:admitted',
    ])
    expect(
      await page.evaluate(() => (window as unknown as { source: EventSource }).source.readyState),
    ).toBe(1)
    // The browser saw every answer, the refusals included, as a 200.
    await waitFor(() => statuses.length === browserAttempts.length, 5000, 'every status seen')
    expect(statuses).toEqual(browserAttempts.map(() => 200))
    expect(getMetrics().refusedOverLimit - before.refusedOverLimit).toBe(6 + refusals)
    expect(app.openStreams()).toBe(1)
  })

  it("answers 503 with Retry-After over maxStreams when overLimit is 'reject'", async () => {
    const attempts: { at: number; admitted: boolean; agent: string }[] = []
    const app = await startApp(cleanup, adapter, [welcomeRoute(attempts)], {
      heartbeat: false,
      maxStreams: 1,
      overLimit: 'reject',
      limitRetry: { ms: 2000, jitter: 3000 },
    })
    const holder = await client(`${app.url}/events`)
    await holder.waitForEvents(1)
    const before = getMetrics()
    const refused = await client(`${app.url}/events`)
    await refused.waitForEnd()
    expect(refused.status).toBe(503)
    expect(refused.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(['2', '3', '4', '5']).toContain(refused.headers['retry-after'])
    expect(refused.text).toBe('Service Unavailable')
    const after = getMetrics()
    expect(after.refusedOverLimit - before.refusedOverLimit).toBe(1)
    expect(after.openStreams - before.openStreams).toBe(0)
    expect(after.streamsOpened - before.streamsOpened).toBe(0)
    expect(app.openStreams()).toBe(1)
    expect(attempts.map((a) => a.admitted)).toEqual([true, false])
  })

  it("turns subscribers away beyond a channel's maxSubscribers, as the route's overLimit says", async () => {
    const channel = createChannel({ maxSubscribers: 2 })
    const subscribe = async (stream: EventStream) => {
      await channel.subscribe(stream)
    }
    const app = await startApp(
      cleanup,
      adapter,
      [
        get('/retry', subscribe, { limitRetry: { ms: 700, jitter: 100 } }),
        get('/reject', subscribe, { overLimit: 'reject', limitRetry: 1500 }),
      ],
      { heartbeat: false },
    )
    const members = [await client(`${app.url}/retry`), await client(`${app.url}/reject`)]
    await waitFor(() => channel.size === 2, 5000, 'two subscribers')
    const before = getMetrics()

    await expectRetryRefusal(await client(`${app.url}/retry`), 700, 800)
    const rejected = await client(`${app.url}/reject`)
    await rejected.waitForEnd()
    expect(rejected.status).toBe(503)
    expect(rejected.headers['retry-after']).toBe('2')
    expect(rejected.text).toBe('Service Unavailable')
    const after = getMetrics()
    expect(after.refusedOverLimit - before.refusedOverLimit).toBe(2)
    expect(after.streamsOpened - before.streamsOpened).toBe(0)
    expect(channel.size).toBe(2)
    expect(app.openStreams()).toBe(2)

    // Room again once a member leaves.
    members[0]!.close()
    await waitFor(() => channel.size === 1, 5000, 'a member left')
    const newcomer = await client(`${app.url}/reject`)
    await waitFor(() => channel.size === 2, 5000, 'the newcomer subscribed')
    await channel.publish('hello')
    expect(await newcomer.waitForEvents(1)).toEqual([{ data: 'hello' }])
    expect(newcomer.status).toBe(200)
  })

  describe.each([
    {
      level: 'route',
      routes: (): Route[] => [
        get(
          '/private',
          (stream) => {
            void stream.send('secret')
          },
          {
            authorize: async (context) => {
              const token = headerOf(context, 'x-token')
              return token === 'good' ? true : token === undefined ? 401 : false
            },
          },
        ),
      ],
      channel: undefined,
    },
    (() => {
      const channel = createChannel({
        authorize: async (_stream, context) => {
          const token = (context as { token?: string }).token
          return token === 'good' ? true : token === undefined ? 401 : 403
        },
      })
      return {
        level: 'channel',
        routes: (): Route[] => [
          get('/private', async (stream, request) => {
            await channel.subscribe(stream, { context: { token: request.headers['x-token'] } })
            void stream.send('secret')
          }),
        ],
        channel,
      }
    })(),
  ])('authorize at $level level', ({ routes, channel }) => {
    for (const [token, status, text] of [
      [undefined, 401, 'Unauthorized'],
      ['bad', 403, 'Forbidden'],
    ] as const) {
      it(`refuses ${token === undefined ? 'a request without a token' : 'a bad token'} with ${status} and opens no stream`, async () => {
        const app = await startApp(cleanup, adapter, routes(), { heartbeat: false, headers: CORS })
        const before = getMetrics()
        const refused = await client(
          `${app.url}/private`,
          token === undefined ? {} : { 'x-token': token },
        )
        await refused.waitForEnd()
        expect(refused.status).toBe(status)
        expect(refused.headers['content-type']).toBe('text/plain; charset=utf-8')
        // Readable cross-origin, or a browser could not tell a refusal from a network error.
        expect(refused.headers['access-control-allow-origin']).toBe('*')
        expect(refused.text).toBe(text)
        const after = getMetrics()
        expect(after.refusedUnauthorized - before.refusedUnauthorized).toBe(1)
        expect(after.streamsOpened - before.streamsOpened).toBe(0)
        expect(after.openStreams - before.openStreams).toBe(0)
        expect(app.openStreams()).toBe(0)
        expect(channel?.size ?? 0).toBe(0)
      })
    }

    it('admits a good token', async () => {
      const app = await startApp(cleanup, adapter, routes(), { heartbeat: false, headers: CORS })
      const before = getMetrics()
      const admitted = await client(`${app.url}/private`, { 'x-token': 'good' })
      expect(await admitted.waitForEvents(1)).toEqual([{ data: 'secret' }])
      expect(admitted.status).toBe(200)
      expect(admitted.headers['content-type']).toBe(SSE_TYPE)
      expect(getMetrics().refusedUnauthorized - before.refusedUnauthorized).toBe(0)
      expect(app.openStreams()).toBe(1)
      expect(channel?.size ?? 1).toBe(1)
    })

    it('makes a browser EventSource give up on a 401', async () => {
      const attempts: number[] = []
      const app = await startApp(
        cleanup,
        adapter,
        routes().map((route) => ({
          ...route,
          handler: (stream: EventStream, request: Parameters<Route['handler']>[1]) => {
            attempts.push(performance.now())
            return route.handler(stream, request)
          },
        })),
        { heartbeat: false, headers: CORS, retry: 100 },
      )
      const pages = await startPageServer()
      cleanup.add(() => pages.close())
      const statuses: number[] = []
      const page = await openPage(pages, `${app.url}/private`, (status) => statuses.push(status))
      cleanup.add(() => page.context().close())
      await page.waitForFunction(
        () => (window as unknown as { source: EventSource }).source.readyState === 2,
        undefined,
        { timeout: 10_000 },
      )
      expect(await sseLog(page)).toEqual(['error:2'])
      expect(attempts).toHaveLength(1)
      // The refusal is readable cross-origin: the page saw the 401 itself.
      await waitFor(() => statuses.length === 1, 5000, 'the status seen')
      expect(statuses).toEqual([401])
    })
  })
})
