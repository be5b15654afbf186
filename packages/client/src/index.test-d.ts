/**
 * One event map types the server and the client: what `connect<Events>()` yields is what
 * `send`/`publish` took, and a wrong name, payload or format does not compile.
 */
import type { AnyEvents, EventOf } from '@ssekit/core'
import { createChannel } from '@ssekit/core'
import { describe, expectTypeOf, it } from 'vitest'
import { connect, type SseCloseInfo, type SseMessage, type SseSource } from './index.js'

type Answer = { token: string; done: { usage: number }; error: { reason: 'failed' | 'cancelled' } }
const events = { token: 'text', done: 'json', error: 'json' } as const

describe('connect<Events>()', () => {
  it('yields each event of the map with its data type, narrowed by its name', async () => {
    const source = connect<Answer>('/answers', { events })
    expectTypeOf(source).toEqualTypeOf<SseSource<Answer>>()
    for await (const message of source) {
      expectTypeOf(message.event).toEqualTypeOf<'token' | 'done' | 'error'>()
      expectTypeOf(message.id).toEqualTypeOf<string>()
      if (message.event === 'token') expectTypeOf(message.data).toEqualTypeOf<string>()
      if (message.event === 'done') expectTypeOf(message.data).toEqualTypeOf<{ usage: number }>()
      // @ts-expect-error: done's data has no `tokens`
      if (message.event === 'done') void message.data.tokens
    }
  })

  it('types listeners by event name, and refuses a name the map does not have', () => {
    const source = connect<Answer>('/answers', { events })
    source.on('token', (m) => {
      expectTypeOf(m.data).toEqualTypeOf<string>()
      expectTypeOf(m.event).toEqualTypeOf<'token'>()
    })
    source.on('done', (m) => expectTypeOf(m.data.usage).toEqualTypeOf<number>())
    // @ts-expect-error: no such event
    source.on('tokn', () => {})
    // @ts-expect-error: done's data is an object, not a string
    source.on('done', (m: { data: string }) => m)
    expectTypeOf(source.on('token', () => {})).toEqualTypeOf<() => void>()
  })

  it('takes the same map as the server, so what is sent is what is read', () => {
    const channel = createChannel<Answer>({ name: 'answer:1' })
    void channel.publish({ event: 'done', data: { usage: 1 } })
    type Sent = Extract<EventOf<Answer>, { event: 'done' }>['data']
    type Read = Extract<SseMessage<Answer>, { event: 'done' }>['data']
    expectTypeOf<Read>().toEqualTypeOf<Sent>()
  })

  it('requires events: every event of the map, text for strings, json (or a parser) for the rest', () => {
    // @ts-expect-error: a typed map needs `events`
    connect<Answer>('/answers')
    // @ts-expect-error: `error` is missing
    connect<Answer>('/answers', { events: { token: 'text', done: 'json' } })
    // @ts-expect-error: token is a string: the server sends it as is, it is not JSON
    connect<Answer>('/answers', { events: { token: 'json', done: 'json', error: 'json' } })
    // @ts-expect-error: done is an object: its data is JSON
    connect<Answer>('/answers', { events: { token: 'text', done: 'text', error: 'json' } })
    // @ts-expect-error: no such event in the map
    connect<Answer>('/answers', { events: { ...events, extra: 'json' } })
    connect<Answer>('/answers', {
      events: { token: 'text', done: (text) => ({ usage: Number(text) }), error: 'json' },
    })
    // @ts-expect-error: a parser must return the event's type
    connect<Answer>('/answers', { events: { ...events, done: (text: string) => text } })
  })

  it('reads text without a map, as an EventSource does, and takes no events option', async () => {
    const source = connect('/events')
    expectTypeOf(source).toEqualTypeOf<SseSource<AnyEvents>>()
    for await (const message of source) {
      expectTypeOf(message.event).toEqualTypeOf<string>()
      expectTypeOf(message.data).toEqualTypeOf<string>()
    }
    source.on('anything', (m) => expectTypeOf(m.data).toEqualTypeOf<string>())
    // @ts-expect-error: without a map there is nothing to parse by
    connect('/events', { events: { a: 'json' } })
  })

  it('checks the options it takes', () => {
    // Options never change the map: without one, it is AnyEvents.
    expectTypeOf(connect('/events', { reconnect: false })).toEqualTypeOf<SseSource<AnyEvents>>()
    connect('/events', {
      method: 'POST',
      body: new URLSearchParams({ q: '1' }),
      headers: { authorization: 'Bearer x' },
      credentials: 'include',
      reconnect: { delay: 500, maxDelay: 10_000, maxAttempts: 5, maxElapsed: 60_000 },
      idleTimeout: 45_000,
      maxEventLength: 4 * 1024 * 1024,
      share: true,
      signal: AbortSignal.timeout(1000),
      onRetry: (info) => expectTypeOf(info.attempt).toEqualTypeOf<number>(),
    })
    connect('/events', { reconnect: false })
    // @ts-expect-error: a stream body cannot be sent again on reconnect
    connect('/events', { body: new ReadableStream() })
    // @ts-expect-error: a misspelt option
    connect('/events', { reconect: false })
    // @ts-expect-error: reconnect is an object or false
    connect('/events', { reconnect: true })
  })

  it('says why it closed', async () => {
    const info = await connect('/events').closed
    expectTypeOf(info).toEqualTypeOf<SseCloseInfo>()
    if (info.reason === 'failed') expectTypeOf(info.error.code).toBeString()
    // @ts-expect-error: only a failure carries an error
    if (info.reason === 'done') void info.error
  })
})
