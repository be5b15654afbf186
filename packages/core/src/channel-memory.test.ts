/**
 * Named channels are cheap and finite: one per job or answer, each ended, each log forgotten
 * once it expired, and nothing left behind in the process once nobody listens.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createChannel } from './channel.js'
import { getMetrics } from './metrics.js'
import type { LogListener } from './store.js'
import { MemoryEventStore } from './store-memory.js'
import { memory, memoryStream, WrappedStore } from './test-utils/index.js'

const MiB = 1024 * 1024

afterEach(() => {
  vi.useRealTimers()
})

/** A MemoryEventStore that counts the followers attached to it right now. */
class CountingStore extends WrappedStore {
  followers = 0

  override follow(name: string, listener: LogListener): () => void {
    const off = this.inner.follow(name, listener)
    this.followers++
    let on = true
    return () => {
      if (on) this.followers--
      on = false
      off()
    }
  }
}

describe('named channels', () => {
  it('leave the heap at its baseline once 100,000 of them were published to once, ended and expired', async () => {
    const TTL = 60_000
    const COUNT = 100_000
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const inner = new MemoryEventStore({ endedTtlMs: TTL })
    const store = new CountingStore(inner)
    const before = getMetrics()
    const baseline = memory()

    let closed = 0
    for (let i = 0; i < COUNT; i++) {
      const channel = createChannel({ name: `answer:${i}`, store })
      const { stream, transport } = memoryStream({ heartbeat: false })
      await channel.subscribe(stream)
      await channel.publish({ n: i, text: 'a short answer' })
      await channel.end()
      if (stream.closed && transport.ended) closed++
    }
    expect(closed).toBe(COUNT)
    expect(store.followers).toBe(0)
    expect(getMetrics().openStreams).toBe(before.openStreams)
    expect(inner.logs).toBe(COUNT)
    // The ended logs are still kept (for late readers and 204s): the heap shows them.
    const kept = memory() - baseline
    expect(kept).toBeGreaterThan(10 * MiB)

    vi.advanceTimersByTime(TTL)
    expect(inner.logs).toBe(0)
    // The store is still held: whatever the hub registry kept for it would still count.
    const left = memory() - baseline
    expect(left).toBeLessThan(2 * MiB)
    expect(store.followers).toBe(0)
  })
})
