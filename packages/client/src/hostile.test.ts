/**
 * A hostile or broken server cannot crash the client or make it hold memory without bound:
 * a line that never ends, an event that never ends, bytes that are not UTF-8, a server that
 * sends nothing at all. Real server, real fetch.
 */
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, memory } from '../../core/src/test-utils/index.js'
import { connect, type RetryInfo, type SseClientError } from './index.js'
import { openStream, startRawServer } from './test-utils/apps.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const KiB = 1024
const MiB = 1024 * KiB

/** Writes `total` bytes of `chunk`s, honouring backpressure, until done or the client leaves. */
async function offer(res: ServerResponse, total: number, chunk: string): Promise<number> {
  let written = 0
  while (written < total && !res.destroyed) {
    const ok = res.write(chunk)
    written += chunk.length
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    }
  }
  return written
}

/**
 * Real fetch, its body passed through a counter that reads the process's memory (after a
 * full collection) each time another `step` bytes have reached the client: what the client
 * holds of what it has read so far.
 */
function measuredFetch(step: number) {
  const m = { peak: 0, received: 0, baseline: 0 }
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    m.baseline = memory()
    let next = step
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        m.received += chunk.byteLength
        if (m.received >= next) {
          next += step
          m.peak = Math.max(m.peak, memory() - m.baseline)
        }
        controller.enqueue(chunk)
      },
    })
    return new Response(response.body!.pipeThrough(counter), response)
  }
  return { fetch: wrapped, m }
}

/** A server that offers `data: ` and then 10 MiB of `x` with no line break, then ends. */
async function endlessLine() {
  let offered: Promise<number> | undefined
  const server = cleanup.add(
    await startRawServer((_req, res) => {
      openStream(res)
      res.write('data: ')
      offered = offer(res, 10 * MiB, 'x'.repeat(64 * KiB)).then((n) => {
        res.end()
        return n
      })
    }),
    (s) => s.close(),
  )
  return { server, written: () => offered! }
}

describe('hostile output', () => {
  it('fails a 10 MiB line with no line break at maxEventLength, memory bounded all along', async () => {
    const { server, written } = await endlessLine()
    const { fetch, m } = measuredFetch(256 * KiB)
    const source = connect(server.url, { fetch, reconnect: { delay: 0, maxDelay: 0 } })
    source.on('message', () => {})
    const closed = await source.closed

    expect(closed.reason).toBe('failed')
    const error = (closed as { error: SseClientError }).error
    expect(error.code).toBe('ERR_SSE_EVENT_TOO_LARGE')
    expect(error.message).toBe(
      "@ssekit/client: the server sent a line or an event longer than maxEventLength (1048576 characters); the connection was failed. Raise maxEventLength if the server's events are that large.",
    )
    // Not reconnected: the server would send it again.
    expect(server.requests).toHaveLength(1)
    // The client read about 1 MiB and held about that, then let the body go.
    expect(m.received).toBeGreaterThanOrEqual(MiB)
    expect(m.peak).toBeLessThan(3 * MiB)
    expect(await written()).toBeLessThan(10 * MiB)
  })

  it('(control) holds the whole line without a limit: the measurement above sees what is held', async () => {
    const { server } = await endlessLine()
    const { fetch, m } = measuredFetch(MiB)
    const source = connect(server.url, { fetch, reconnect: false, maxEventLength: Infinity })
    source.on('message', () => {})
    expect(await source.closed).toEqual({ reason: 'done' })
    expect(m.received).toBeGreaterThan(10 * MiB)
    expect(m.peak).toBeGreaterThan(8 * MiB)
  })

  it('fails an event that grows past maxEventLength one data line at a time', async () => {
    const server = cleanup.add(
      await startRawServer((_req, res) => {
        openStream(res)
        void offer(res, 10 * MiB, `data: ${'y'.repeat(1017)}\n`)
      }),
      (s) => s.close(),
    )
    const source = connect(server.url, { maxEventLength: 256 * KiB })
    source.on('message', () => {})
    const closed = (await source.closed) as { error: SseClientError }
    expect(closed.error.code).toBe('ERR_SSE_EVENT_TOO_LARGE')
    expect(closed.error.message).toContain('(262144 characters)')
  })

  it('reads invalid UTF-8 from the network as replacement characters and goes on', async () => {
    const server = cleanup.add(
      await startRawServer((_req, res) => {
        openStream(res)
        res.write(Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xc3, 0x28, 0xa0, 0x0a, 0x0a]))
        res.end('data: fine\n\n')
      }),
      (s) => s.close(),
    )
    const source = connect(server.url, { reconnect: false })
    const got: string[] = []
    for await (const m of source) got.push(m.data)
    expect(got).toEqual(['\uFFFD(\uFFFD', 'fine'])
  })

  it('reconnects a server that sends nothing for idleTimeout ms, from the last id', async () => {
    const server = cleanup.add(
      await startRawServer((_req, res, i) => {
        if (i === 0) {
          openStream(res)
          res.write('id: 1\ndata: first\n\n') // then silence
        } else if (i === 1) {
          openStream(res)
          res.end('id: 2\ndata: second\n\n')
        } else {
          res.writeHead(204).end()
        }
      }),
      (s) => s.close(),
    )
    const retries: RetryInfo[] = []
    const source = connect(server.url, {
      idleTimeout: 150,
      reconnect: { delay: 0, maxDelay: 0 },
      onRetry: (r) => retries.push(r),
    })
    const got: string[] = []
    source.on('message', (m) => got.push(m.data))
    expect(await source.closed).toEqual({ reason: 'done' })
    expect(got).toEqual(['first', 'second'])
    expect(server.requests.map((r) => r.lastEventId)).toEqual([undefined, '1', '2'])
    expect((retries[0]!.error as SseClientError).code).toBe('ERR_SSE_IDLE_TIMEOUT')
    expect(retries[0]!.error!.message).toBe(
      `@ssekit/client: nothing came from ${server.url}/ for 150 ms (idleTimeout); reconnecting. Keep idleTimeout above the server's heartbeat.`,
    )
  })

  it('counts a server that never answers the headers as idle too', async () => {
    const server = cleanup.add(
      await startRawServer((_req, res, i) => {
        if (i > 0) res.writeHead(204).end()
        // The first request is never answered.
      }),
      (s) => s.close(),
    )
    const retries: RetryInfo[] = []
    const source = connect(server.url, {
      idleTimeout: 100,
      reconnect: { delay: 0, maxDelay: 0 },
      onRetry: (r) => retries.push(r),
    })
    source.on('message', () => {})
    expect(await source.closed).toEqual({ reason: 'done' })
    expect(retries.map((r) => (r.error as SseClientError).code)).toEqual(['ERR_SSE_IDLE_TIMEOUT'])
  })
})
