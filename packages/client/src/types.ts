/**
 * The client's side of an event map: the map that types the server's `res.sse<Events>()`,
 * `reply.sse<Events>()`, `c.sse<Events>(…)` and `createChannel<Events>()` types what
 * `connect<Events>()` yields.
 */
import type { AnyEvents, EventMap } from '@ssekit/core'

type Keys<M> = keyof M & string

/** True for a map with an index signature (`AnyEvents`, `Record<string, T>`): no fixed names. */
type Open<M> = string extends keyof M ? true : false

/**
 * Data of an open map's events: the text for `AnyEvents` (the client cannot know more), else
 * the map's type.
 */
type OpenData<M> = unknown extends M[keyof M & string] ? string : M[keyof M & string]

/**
 * One event as the client yields it: its name, its data (typed by the map) and `id`, the
 * last event id at its dispatch (what a reconnect sends as `Last-Event-ID`; `''` before any).
 * Events without an `event:` field are `message`.
 */
export type SseMessage<M extends EventMap = AnyEvents> =
  Open<M> extends true
    ? { readonly event: string; readonly data: OpenData<M>; readonly id: string }
    : {
        [K in Keys<M>]: { readonly event: K; readonly data: M[K]; readonly id: string }
      }[Keys<M>]

/** The events of `M` named `K`. */
export type SseMessageOf<M extends EventMap, K extends string> =
  Open<M> extends true ? SseMessage<M> : Extract<SseMessage<M>, { readonly event: K }>

/**
 * How the data of one event is read. The server sends a string as it is and anything else
 * through `JSON.stringify`, so an event whose data is a string (or string literals) is
 * `'text'`, any other is `'json'`; a function reads it your way (a reviver, say).
 */
export type DataFormat<T> = [T] extends [string]
  ? 'text' | ((text: string) => T)
  : 'json' | ((text: string) => T)

/**
 * The `events` option: every event of the map, with how its data is read —
 * `{ token: 'text', done: 'json' }`. A missing event, an extra one, or `'text'` for an
 * object does not compile. For an open map (`Record<string, T>`) one format for all.
 */
export type EventFormats<M extends EventMap> =
  Open<M> extends true
    ? unknown extends M[keyof M & string]
      ? never
      : DataFormat<M[keyof M & string]>
    : { readonly [K in Keys<M>]: DataFormat<M[K]> }

/** True when `connect<M>()` must be given `events` (any typed map). */
export type NeedsFormats<M extends EventMap> = [EventFormats<M>] extends [never]
  ? false
  : Open<M> extends true
    ? [M[keyof M & string]] extends [string]
      ? false
      : true
    : true
