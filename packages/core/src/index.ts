/**
 * @module @ssekit/core
 * Server-Sent Events done once: spec-exact encoding, streams with heartbeat, backpressure
 * and Last-Event-ID replay, broadcast channels, and two transports (Node `ServerResponse`
 * and Web `Response`). No runtime dependencies; nothing from `node:` is loaded, so it runs
 * on Node, Bun, Deno and Workers.
 */

export { type Broker, type BrokerMessage, type BrokerUnsubscribe, MemoryBroker } from './broker.js'
export {
  Channel,
  type ChannelOptions,
  createChannel,
  type FilterView,
  type LeaseOptions,
  type SubscribeOptions,
} from './channel.js'
export {
  encode,
  encodeComment,
  isSseEvent,
  type Serializer,
  type SseEvent,
} from './encode.js'
export {
  rateLimited,
  reportUnhandled,
  SseError,
  type SseErrorCode,
  SseTypeError,
} from './errors.js'
export type {
  AnyEvents,
  EventMap,
  EventOf,
  EventSchemas,
  ProducerError,
  SendInput,
  StandardSchemaV1,
} from './events.js'
export { SSE_HEADERS, streamHeaders } from './headers.js'
export { lastEventIdFrom } from './last-event-id.js'
export { checkLogName } from './log-name.js'
export { getMetrics, type SseMetrics } from './metrics.js'
export {
  type AuthorizeResult,
  checkRetry,
  type HeaderValues,
  type ResolvedOptions,
  type RetryOption,
  resolveOptions,
  type StreamOptions,
} from './options.js'
export { closeAllStreams, StreamGroup } from './registry.js'
export type {
  EventStore,
  Gap,
  GapReason,
  LogInfo,
  LogListener,
  ReadResult,
  StoredEvent,
  StoreInput,
  StoreLease,
} from './store.js'
export { MemoryEventStore, type MemoryEventStoreOptions } from './store-memory.js'
export { EventStream } from './stream.js'
export type { OpenInit, Transport, TransportListener } from './transport.js'
export {
  checkResponseFree,
  createEventStream,
  type NodeRequest,
  type NodeResponse,
  NodeTransport,
  openNodeStream,
  streamOf,
} from './transport-node.js'
export {
  createEventStreamResponse,
  liftIdleTimeout,
  openWebStream,
  runHandler,
  WebTransport,
} from './transport-web.js'
