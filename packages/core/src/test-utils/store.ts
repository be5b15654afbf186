import type {
  EventStore,
  LogInfo,
  LogListener,
  ReadResult,
  StoredEvent,
  StoreInput,
  StoreLease,
} from '../store.js'
import { MemoryEventStore } from '../store-memory.js'

/**
 * A real {@link MemoryEventStore} behind the {@link EventStore} interface. Tests extend it
 * and override one method to gate, delay or observe it (a real part with a gate, not a
 * mock): everything else is the memory store's own behaviour.
 */
export class WrappedStore implements EventStore {
  /** The store that holds the logs. A test may swap it to play a store that lost its data. */
  inner: MemoryEventStore

  constructor(inner: MemoryEventStore = new MemoryEventStore()) {
    this.inner = inner
  }

  append(name: string, event: StoreInput): StoredEvent | Promise<StoredEvent> {
    return this.inner.append(name, event)
  }

  read(name: string, after: string | undefined, limit: number): ReadResult | Promise<ReadResult> {
    return this.inner.read(name, after, limit)
  }

  info(name: string): LogInfo | Promise<LogInfo> {
    return this.inner.info(name)
  }

  follow(name: string, listener: LogListener): () => void {
    return this.inner.follow(name, listener)
  }

  end(name: string, final?: StoreInput): void | Promise<void> {
    return this.inner.end(name, final)
  }

  lease(name: string, ttlMs: number): Promise<StoreLease> {
    return this.inner.lease(name, ttlMs)
  }

  cancel(name: string): void | Promise<void> {
    return this.inner.cancel(name)
  }
}
