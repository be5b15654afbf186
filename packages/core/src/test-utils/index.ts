/**
 * Helpers shared by the core tests and the adapters' conformance suite: real servers on a
 * free port, SSE bodies read with a spec parser, bounded waits, and an in-memory transport.
 */

export { memory } from './memory.js'
export { MemoryTransport, memoryStream } from './memory-transport.js'
export {
  freePort,
  type H2Response,
  h2Request,
  RawClient,
  rawGet,
  splitResponse,
  startH2cServer,
  startServer,
  type TestServer,
} from './server.js'
export {
  fetchSse,
  type ParsedSse,
  parseSse,
  SseCollector,
  type SseFetch,
  type SseItem,
  SseReader,
} from './sse.js'
export { WrappedStore } from './store.js'
export { Cleanup, type Deferred, deferred, once, tick, waitFor } from './wait.js'
