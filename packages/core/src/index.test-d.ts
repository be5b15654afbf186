import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type AuthorizeResult,
  createChannel,
  createEventStream,
  createEventStreamResponse,
  type EventStore,
  EventStream,
  encode,
  encodeComment,
  type Gap,
  type GapReason,
  getMetrics,
  type LeaseOptions,
  type LogInfo,
  type LogListener,
  MemoryEventStore,
  type NodeRequest,
  type ReadResult,
  type ResolvedOptions,
  resolveOptions,
  type SseError,
  type SseErrorCode,
  type SseEvent,
  type SseMetrics,
  type SseTypeError,
  type StoredEvent,
  type StoreLease,
  type StreamOptions,
} from './index.js'

declare const req: IncomingMessage
declare const res: ServerResponse
declare const req2: Http2ServerRequest
declare const res2: Http2ServerResponse
declare const request: Request
declare const stream: EventStream

describe('encode', () => {
  it('takes an SseEvent and returns the frame as a string', () => {
    expectTypeOf(encode).parameter(0).toEqualTypeOf<SseEvent>()
    expectTypeOf(
      encode({ data: { n: 1 }, event: 'tick', id: '1', retry: 0 }),
    ).toEqualTypeOf<string>()
    expectTypeOf(encodeComment()).toEqualTypeOf<string>()
  })

  it('rejects events with a missing or wrongly typed field', () => {
    // @ts-expect-error data is required
    encode({ event: 'tick' })
    // @ts-expect-error event is a string
    encode({ data: 1, event: 5 })
    // @ts-expect-error id is a string or a number
    encode({ data: 1, id: true })
    // ids are often database keys: a number is fine
    encode({ data: 1, id: 7 })
    // @ts-expect-error retry is a number of milliseconds
    encode({ data: 1, retry: '5' })
    // @ts-expect-error a bare payload is not an event
    encode('text')
  })

  it('types the payload of an SseEvent', () => {
    const ok: SseEvent<{ n: number }> = { data: { n: 1 } }
    expectTypeOf(ok.data).toEqualTypeOf<{ n: number }>()
    // @ts-expect-error an event with the wrong payload
    const bad: SseEvent<{ n: number }> = { data: { n: 'one' } }
    void bad
  })
})

describe('EventStream', () => {
  it('exposes the documented members with their types', () => {
    expectTypeOf(stream.send).returns.toEqualTypeOf<Promise<boolean>>()
    expectTypeOf(stream.comment).returns.toEqualTypeOf<Promise<boolean>>()
    expectTypeOf(stream.pipe).returns.toEqualTypeOf<Promise<void>>()
    expectTypeOf(stream.close).returns.toEqualTypeOf<void>()
    expectTypeOf(stream.closed).toEqualTypeOf<boolean>()
    expectTypeOf(stream.signal).toEqualTypeOf<AbortSignal>()
    expectTypeOf(stream.lastEventId).toEqualTypeOf<string | undefined>()
    expectTypeOf(stream.onClose).parameter(0).toEqualTypeOf<() => void>()
    expectTypeOf(stream.onClose).returns.toEqualTypeOf<() => void>()
  })

  it('pipes sync and async iterables only', () => {
    async function* gen() {
      yield 1
    }
    expectTypeOf(stream.pipe(gen())).toEqualTypeOf<Promise<void>>()
    expectTypeOf(stream.pipe([1, 2])).toEqualTypeOf<Promise<void>>()
    // @ts-expect-error a number is not iterable
    stream.pipe(5)
  })

  it('keeps closed and lastEventId read-only', () => {
    // @ts-expect-error closed is a getter
    stream.closed = true
    // @ts-expect-error lastEventId is read-only
    stream.lastEventId = 'x'
  })
})

describe('createEventStream', () => {
  it('takes node:http and node:http2 requests and returns an EventStream', () => {
    expectTypeOf(createEventStream(req, res)).toEqualTypeOf<EventStream>()
    expectTypeOf(createEventStream(req2, res2)).toEqualTypeOf<EventStream>()
  })

  it('gives authorize the Node request', () => {
    createEventStream(req, res, {
      authorize: (r) => {
        expectTypeOf(r).toEqualTypeOf<NodeRequest>()
        return r.headers.authorization !== undefined
      },
    })
  })

  it('rejects a Web Request', () => {
    // @ts-expect-error a Web Request is not a Node request
    createEventStream(request, res)
  })
})

describe('createEventStreamResponse', () => {
  it('returns a promise of a Response and gives authorize the Request', () => {
    const response = createEventStreamResponse(
      request,
      (s) => {
        expectTypeOf(s).toEqualTypeOf<EventStream>()
      },
      {
        authorize: async (r) => {
          expectTypeOf(r).toEqualTypeOf<Request>()
          return 401 as const
        },
      },
    )
    expectTypeOf(response).toEqualTypeOf<Promise<Response>>()
  })
})

describe('options', () => {
  it('accepts every documented value', () => {
    const options: StreamOptions<Request> = {
      heartbeat: false,
      retry: { ms: 1000, jitter: 500 },
      store: new MemoryEventStore({ maxEvents: 10, maxAgeMs: 1000 }),
      maxBufferedBytes: 65_536,
      padding: 2048,
      serializer: (v) => JSON.stringify(v),
      headers: { 'set-cookie': ['a=1', 'b=2'], 'x-a': 'b' },
      lastEventIdQuery: 'lastEventId',
      maxStreams: 100,
      overLimit: 'reject',
      limitRetry: 5000,
      authorize: () => true,
      onGap: (gap, s) => {
        expectTypeOf(gap).toEqualTypeOf<Gap>()
        expectTypeOf(s).toEqualTypeOf<EventStream>()
      },
      onError: (error, s) => {
        expectTypeOf(error).toEqualTypeOf<unknown>()
        expectTypeOf(s).toEqualTypeOf<EventStream>()
      },
    }
    expectTypeOf(resolveOptions(options)).toEqualTypeOf<ResolvedOptions<Request>>()
  })

  it('rejects values of the wrong type, a retry without ms, and unknown names', () => {
    // @ts-expect-error heartbeat is a number or false
    resolveOptions({ heartbeat: true })
    // @ts-expect-error overLimit is 'retry' or 'reject'
    resolveOptions({ overLimit: 'drop' })
    // @ts-expect-error retry { jitter } without ms
    resolveOptions({ retry: { jitter: 5 } })
    // @ts-expect-error lastEventIdQuery is a name or false
    resolveOptions({ lastEventIdQuery: true })
    // @ts-expect-error header values are strings
    resolveOptions({ headers: { 'x-a': 1 } })
    // @ts-expect-error a store needs read, info, follow, end, lease and cancel
    resolveOptions({ store: { append: () => '1' } })
    // @ts-expect-error an unknown option
    resolveOptions({ heartBeat: 1000 })
  })

  it('limits what authorize may answer', () => {
    expectTypeOf<AuthorizeResult>().toEqualTypeOf<boolean | 401 | 403>()
    // @ts-expect-error 200 is not a refusal status
    resolveOptions({ authorize: () => 200 })
    // @ts-expect-error nor is a string
    resolveOptions({ authorize: async () => 'yes' })
  })
})

describe('stores', () => {
  it('makes MemoryEventStore an EventStore of named logs with synchronous answers', () => {
    const store = new MemoryEventStore()
    expectTypeOf(store).toMatchTypeOf<EventStore>()
    expectTypeOf(store.append('job', { data: 'x' })).toEqualTypeOf<StoredEvent>()
    expectTypeOf(store.read('job', 'id', 500)).toEqualTypeOf<ReadResult>()
    expectTypeOf(store.read('job', undefined, 500)).toEqualTypeOf<ReadResult>()
    expectTypeOf(store.info('job')).toEqualTypeOf<LogInfo>()
    expectTypeOf(store.follow).parameter(1).toEqualTypeOf<LogListener>()
    expectTypeOf(store.follow('job', { entry() {}, resync() {} })).toEqualTypeOf<() => void>()
    expectTypeOf(store.lease('job', 5000)).toEqualTypeOf<Promise<StoreLease>>()
    expectTypeOf(store.logs).toEqualTypeOf<number>()
    // @ts-expect-error data is already text in a store
    store.append('job', { data: { n: 1 } })
    // @ts-expect-error an append names its log
    store.append({ data: 'x' })
    // @ts-expect-error a read says how many entries at most
    store.read('job', 'id')
    // @ts-expect-error maxEvents is a number
    new MemoryEventStore({ maxEvents: '10' })
    // @ts-expect-error endedTtlMs is a number
    new MemoryEventStore({ endedTtlMs: '5m' })
  })

  it('lets a store answer asynchronously', () => {
    const inner = new MemoryEventStore()
    const remote: EventStore = {
      append: async (name, event) => inner.append(name, event),
      read: async (name, after, limit) => inner.read(name, after, limit),
      info: async (name) => inner.info(name),
      follow: (name, listener) => inner.follow(name, listener),
      end: async (name, final) => inner.end(name, final),
      lease: (name, ttlMs) => inner.lease(name, ttlMs),
      cancel: async (name) => inner.cancel(name),
    }
    expectTypeOf(remote.append('job', { data: 'x' })).toEqualTypeOf<
      StoredEvent | Promise<StoredEvent>
    >()
  })

  it('gives a stored entry its id, seq and epoch, read-only', () => {
    const entry = new MemoryEventStore().append('job', { data: 'x' })
    expectTypeOf(entry.id).toEqualTypeOf<string>()
    expectTypeOf(entry.seq).toEqualTypeOf<number>()
    expectTypeOf(entry.epoch).toEqualTypeOf<string>()
    expectTypeOf(entry.end).toEqualTypeOf<true | undefined>()
    // @ts-expect-error entries are read-only
    entry.seq = 2
  })

  it('narrows a ReadResult to its events or its gap', () => {
    const result = new MemoryEventStore().read('job', 'x', 500)
    if (result.gap !== undefined) {
      expectTypeOf(result.gap.reason).toEqualTypeOf<GapReason>()
      expectTypeOf(result.events).toEqualTypeOf<undefined>()
    } else {
      expectTypeOf(result.events).toEqualTypeOf<readonly StoredEvent[]>()
    }
    expectTypeOf<GapReason>().toEqualTypeOf<'unknown' | 'expired' | 'invalid'>()
  })
})

describe('channels', () => {
  it('types the events of publish and of filters by the event map', () => {
    type Events = { token: string; done: { usage: number } }
    const channel = createChannel<Events>()
    expectTypeOf(channel.publish({ event: 'token', data: 'Hel' })).toEqualTypeOf<
      Promise<string | undefined>
    >()
    channel.publish({ event: 'done', data: { usage: 3 } })
    // @ts-expect-error an event name that is not in the map
    channel.publish({ event: 'tokn', data: 'Hel' })
    // @ts-expect-error the wrong payload for the event
    channel.publish({ event: 'done', data: { usage: 'three' } })
    // @ts-expect-error with several events, a bare payload does not say which
    channel.publish('Hel')
    void channel.subscribe(stream, {
      filter: (event) => {
        if (event.event === 'done') expectTypeOf(event.data).toEqualTypeOf<{ usage: number }>()
        else expectTypeOf(event.data).toEqualTypeOf<string>()
        return true
      },
    })
  })

  it('takes bare data for the message event only, and names every other event', () => {
    const orders = createChannel<{ order: { id: number } }>({ event: 'order' })
    orders.publish({ event: 'order', data: { id: 42 } })
    // @ts-expect-error bare data goes out as `message`, which this map does not have
    orders.publish({ id: 42 })
    // @ts-expect-error the wrong payload
    orders.publish({ event: 'order', data: { id: '42' } })
    // An untyped channel with an event option stays untyped: nothing is guessed from it.
    const untyped = createChannel({ event: 'orders' })
    untyped.publish('anything')
    // @ts-expect-error the event option names an event of the map
    createChannel<{ order: { id: number } }>({ event: 'orders' })
    const messages = createChannel<{ message: string; done: { ok: boolean } }>()
    messages.publish({ data: 'no event name: message' })
    messages.publish({ event: 'done', data: { ok: true } })
    // @ts-expect-error message data is a string
    messages.publish({ data: 1 })
  })

  it('keeps an untyped channel open to any event', () => {
    const any = createChannel()
    any.publish({ whatever: 1 })
    any.publish({ event: 'x', data: [1, 2] })
    void any.subscribe(stream, {
      filter: (event) => {
        expectTypeOf(event).toEqualTypeOf<SseEvent>()
        return true
      },
    })
  })

  it('types the named log methods: end with a final event, exists, ended, lease, cancel', () => {
    const channel = createChannel<{ n: number; done: { n: number } }>({
      name: 'job:1',
      store: new MemoryEventStore(),
    })
    expectTypeOf(channel.name).toEqualTypeOf<string | undefined>()
    expectTypeOf(channel.end()).toEqualTypeOf<Promise<void>>()
    expectTypeOf(channel.end({ event: 'done', data: { n: 1 } })).toEqualTypeOf<Promise<void>>()
    // @ts-expect-error the final event is an event of the map
    channel.end({ event: 'done', data: { n: 'one' } })
    expectTypeOf(channel.exists()).toEqualTypeOf<Promise<boolean>>()
    expectTypeOf(channel.ended()).toEqualTypeOf<Promise<boolean>>()
    expectTypeOf(channel.lease({ ttlMs: 5000 })).toEqualTypeOf<Promise<StoreLease>>()
    expectTypeOf<LeaseOptions>().toEqualTypeOf<{ ttlMs?: number }>()
    // @ts-expect-error ttlMs is a number of milliseconds
    channel.lease({ ttlMs: '5s' })
    expectTypeOf(channel.cancel()).toEqualTypeOf<Promise<void>>()
  })
})

describe('errors and metrics', () => {
  it('gives errors a stable code and makes SseTypeError a TypeError', () => {
    expectTypeOf<SseError['code']>().toEqualTypeOf<SseErrorCode>()
    expectTypeOf<SseTypeError>().toMatchTypeOf<TypeError>()
    expectTypeOf<SseErrorCode>().toEqualTypeOf<
      | 'ERR_SSE_INVALID_OPTION'
      | 'ERR_SSE_INVALID_FIELD'
      | 'ERR_SSE_HEADERS_SENT'
      | 'ERR_SSE_SLOW_CLIENT'
      | 'ERR_SSE_CHANNEL_CLOSED'
      | 'ERR_SSE_LOG_ENDED'
      | 'ERR_SSE_LEASED'
      | 'ERR_SSE_STORE_UNAVAILABLE'
    >()
  })

  it('returns plain numeric counters', () => {
    expectTypeOf(getMetrics()).toEqualTypeOf<SseMetrics>()
    expectTypeOf(getMetrics().openStreams).toEqualTypeOf<number>()
    expectTypeOf(getMetrics().slowClientsDropped).toEqualTypeOf<number>()
  })

  it('keeps the stream constructor out of reach of a bare call', () => {
    // @ts-expect-error a transport, resolved options and an init are required
    new EventStream()
  })
})
