/**
 * @module @ssekit/client
 * A typed, fetch-based Server-Sent Events client for browsers, Node, Bun and Deno: any
 * method, headers and body; exact WHATWG parsing (eventsource-parser); reconnect that honours
 * `retry:` with capped, jittered backoff and a give-up policy; `Last-Event-ID` on reconnect;
 * a POST resumed with a GET to its `Content-Location`; stops on 204 and on statuses that
 * cannot succeed; `for await` and typed listeners; `AbortSignal`; one connection shared by a
 * browser's tabs on request. Nothing from `node:` is loaded.
 */
import type { AnyEvents, EventMap } from '@ssekit/core'
import { type ConnectOptions, resolveOptions, type TypedConnectOptions } from './options.js'
import { SseSource } from './source.js'
import type { NeedsFormats } from './types.js'

export type { ReadyState, SseCloseInfo } from './connection.js'
export {
  SseClientError,
  type SseClientErrorCode,
  SseClientTypeError,
} from './errors.js'
export type {
  ConnectOptions,
  ReconnectOptions,
  RetryInfo,
  SseBody,
  TypedConnectOptions,
} from './options.js'
export { SseSource } from './source.js'
export type { DataFormat, EventFormats, NeedsFormats, SseMessage, SseMessageOf } from './types.js'

/**
 * Opens a Server-Sent Events source on `url` and returns it at once; it connects in the
 * background and reads once you listen or iterate. Typed by the server's event map, it needs
 * `events`: every event of the map with how its data is read (`'text'` for a string, which
 * the server sends as is; `'json'` for anything else). Options are checked here: a bad one
 * throws an `SseClientTypeError` naming it.
 *
 * @example
 * type Answer = { token: string; done: { usage: number } }
 * const source = connect<Answer>('/answers', {
 *   json: { prompt: 'Hello' }, // a POST; resumed with a GET to its Content-Location
 *   events: { token: 'text', done: 'json' },
 * })
 * for await (const message of source) {
 *   if (message.event === 'token') output.append(message.data)
 *   else console.log('usage', message.data.usage)
 * }
 */
export function connect<M extends EventMap = AnyEvents>(
  url: string | URL,
  // NoInfer: the map is given (`connect<Events>`) or is AnyEvents, never guessed from options.
  ...options: NoInfer<
    NeedsFormats<M> extends true ? [options: TypedConnectOptions<M>] : [options?: ConnectOptions<M>]
  >
): SseSource<M> {
  return new SseSource<M>(resolveOptions(url, options[0]))
}
