import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { heartbeatTimers } from './heartbeat.js'
import type { StreamOptions } from './options.js'
import type { EventStream } from './stream.js'
import { type MemoryTransport, memoryStream } from './test-utils/index.js'

const BEAT = ':\n\n'

let streams: EventStream[] = []

async function open(
  options: StreamOptions,
): Promise<{ stream: EventStream; transport: MemoryTransport }> {
  const made = memoryStream(options)
  streams.push(made.stream)
  // The stream opens at the end of the tick (a microtask; fake timers do not hold it).
  await Promise.resolve()
  return made
}

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  for (const stream of streams) stream.close()
  streams = []
  vi.useRealTimers()
})

describe('heartbeat', () => {
  it('writes a :\\n\\n comment every heartbeat ms on an idle stream', async () => {
    const { transport } = await open({ heartbeat: 1000 })
    vi.advanceTimersByTime(999)
    expect(transport.text).toBe('')
    vi.advanceTimersByTime(1)
    expect(transport.text).toBe(BEAT)
    vi.advanceTimersByTime(1000)
    expect(transport.text).toBe(BEAT + BEAT)
    vi.advanceTimersByTime(3000)
    expect(transport.text).toBe(BEAT.repeat(5))
  })

  it('beats every 15 s by default', async () => {
    const { transport } = await open({})
    vi.advanceTimersByTime(14_999)
    expect(transport.text).toBe('')
    vi.advanceTimersByTime(1)
    expect(transport.text).toBe(BEAT)
  })

  it('is postponed by any other write', async () => {
    const { stream, transport } = await open({ heartbeat: 1000 })
    vi.advanceTimersByTime(600)
    await stream.send('x')
    vi.advanceTimersByTime(400)
    // Due at 1000 had nothing been written; the send at 600 moved it to 1600.
    expect(transport.text).toBe('data: x\n\n')
    vi.advanceTimersByTime(599)
    expect(transport.text).toBe('data: x\n\n')
    vi.advanceTimersByTime(1)
    expect(transport.text).toBe(`data: x\n\n${BEAT}`)
    await stream.comment('manual')
    vi.advanceTimersByTime(999)
    expect(transport.text).toBe(`data: x\n\n${BEAT}: manual\n\n`)
    vi.advanceTimersByTime(1)
    expect(transport.text).toBe(`data: x\n\n${BEAT}: manual\n\n${BEAT}`)
  })

  it('never beats a stream that writes more often than the interval', async () => {
    const { stream, transport } = await open({ heartbeat: 1000 })
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(900)
      await stream.send(String(i))
    }
    expect(transport.text).not.toContain(BEAT)
    expect(transport.text.split('\n\n')).toHaveLength(11)
  })

  it('drives every stream with the same interval from one shared timer', async () => {
    const opened = await Promise.all(Array.from({ length: 100 }, () => open({ heartbeat: 1000 })))
    expect(heartbeatTimers()).toBe(1)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(1000)
    expect(opened.map((o) => o.transport.text)).toEqual(opened.map(() => BEAT))
    expect(vi.getTimerCount()).toBe(1)
    // Streams that were written to beat later, still from the same timer.
    await opened[0]!.stream.send('a')
    vi.advanceTimersByTime(1000)
    expect(opened[1]!.transport.text).toBe(BEAT + BEAT)
    expect(vi.getTimerCount()).toBe(1)
  })

  it('keeps one timer per distinct interval', async () => {
    await open({ heartbeat: 1000 })
    await open({ heartbeat: 1000 })
    const { stream } = await open({ heartbeat: 2000 })
    expect(heartbeatTimers()).toBe(2)
    expect(vi.getTimerCount()).toBe(2)
    stream.close()
    expect(heartbeatTimers()).toBe(1)
    expect(vi.getTimerCount()).toBe(1)
  })

  it('clears the timer when the last stream closes, and writes nothing after', async () => {
    const a = await open({ heartbeat: 1000 })
    const b = await open({ heartbeat: 1000 })
    a.stream.close()
    expect(heartbeatTimers()).toBe(1)
    b.transport.disconnect()
    expect(heartbeatTimers()).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(10_000)
    expect(a.transport.text).toBe('')
    expect(b.transport.text).toBe('')
  })

  it('keeps beating the other streams when one closes', async () => {
    const a = await open({ heartbeat: 1000 })
    const b = await open({ heartbeat: 1000 })
    vi.advanceTimersByTime(500)
    a.stream.close()
    vi.advanceTimersByTime(500)
    expect(b.transport.text).toBe(BEAT)
    expect(a.transport.text).toBe('')
  })

  it('is disabled by heartbeat: false', async () => {
    const { transport } = await open({ heartbeat: false })
    expect(heartbeatTimers()).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(3_600_000)
    expect(transport.text).toBe('')
  })

  it('unrefs its timer so that it never keeps the process alive', async () => {
    vi.useRealTimers()
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
    await open({ heartbeat: 60_000 })
    const call = setTimeoutSpy.mock.calls.findIndex((args) => args[1] === 60_000)
    const timer = setTimeoutSpy.mock.results[call]?.value as NodeJS.Timeout
    setTimeoutSpy.mockRestore()
    expect(call).not.toBe(-1)
    expect(timer.hasRef()).toBe(false)
  })
})
