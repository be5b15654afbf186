/**
 * What a new user gets wrong behaves the same on every adapter, clearly, and never
 * crashes the server: opening a second stream on one response throws
 * `ERR_SSE_HEADERS_SENT` at once, and the first stream carries on. Ids may be numbers.
 */
import { createChannel, SseError } from '@ssekit/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()
  const unhandled: unknown[] = []
  const record = (reason: unknown) => unhandled.push(reason)
  beforeEach(() => {
    unhandled.length = 0
    process.on('unhandledRejection', record)
  })
  afterEach(() => {
    process.off('unhandledRejection', record)
  })

  it('throws ERR_SSE_HEADERS_SENT at once when a stream is opened twice on one response, and keeps the first', async () => {
    let thrown: unknown
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/twice',
        options: { heartbeat: false },
        handler: async (stream, request) => {
          try {
            request.reopen()
          } catch (error) {
            thrown = error
          }
          await stream.send('first stream')
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/twice`)
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: first stream\n\n`)
    expect(thrown).toBeInstanceOf(SseError)
    expect((thrown as SseError).code).toBe('ERR_SSE_HEADERS_SENT')
    expect((thrown as SseError).message).toMatch(
      /^@ssekit\/core: an event stream was already opened/,
    )
    // The response was written and read since the second call: a rejection from it would
    // have surfaced by now.
    expect(unhandled).toEqual([])
    expect(app.openStreams()).toBe(0)
  })

  it('writes numeric ids as their text, from send() and from a channel without a store', async () => {
    const channel = createChannel()
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/ids',
        options: { heartbeat: false },
        handler: async (stream) => {
          await stream.send({ id: 42, data: 'row 42' })
          await channel.subscribe(stream)
          await channel.publish({ id: 0, data: 'row 0' })
          await stream.send({ id: 9007199254740991, event: 'max', data: 'last' })
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/ids`)
    expect(await reader.readToEnd()).toBe(
      `${adapter.preamble}id: 42\ndata: row 42\n\nid: 0\ndata: row 0\n\nevent: max\nid: 9007199254740991\ndata: last\n\n`,
    )
  })

  it('refuses a NaN id with the TypeError naming "id", writing nothing', async () => {
    let thrown: unknown
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/nan',
        options: { heartbeat: false },
        handler: async (stream) => {
          try {
            await stream.send({ id: Number.NaN, data: 'x' })
          } catch (error) {
            thrown = error
          }
          await stream.send('after')
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/nan`)
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: after\n\n`)
    expect(thrown).toBeInstanceOf(TypeError)
    expect((thrown as Error).message).toBe(
      '@ssekit/core: event "id" must be a string or a finite number; received NaN.',
    )
  })
})
