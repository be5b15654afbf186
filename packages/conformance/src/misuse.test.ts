/**
 * What a new user gets wrong behaves the same on every adapter, and never crashes the
 * server: opening a stream twice on one response gives the same stream (no error to forget
 * to catch). Ids may be numbers.
 */
import { createChannel } from '@ssekit/core'
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

  it('gives the same stream when one is opened twice on one response, with no error', async () => {
    let same = false
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/twice',
        options: { heartbeat: false },
        handler: async (stream, request) => {
          // Careless code opens the stream again (no await, no catch): nothing breaks.
          const again = request.reopen()
          // res.sse() / reply.sse() give the stream itself; c.sse() gives the same response.
          same = again === stream || again instanceof Promise
          await stream.send('first stream')
          stream.close()
        },
      },
    ])
    const { reader, response } = await h.fetchSse(`${app.url}/twice`)
    expect(response.status).toBe(200)
    expect(await reader.readToEnd()).toBe(`${adapter.preamble}data: first stream\n\n`)
    // The response was written and read since the second call: a rejection from it would
    // have surfaced by now.
    expect(unhandled).toEqual([])
    expect(app.errors).toEqual([])
    expect(same).toBe(true)
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
