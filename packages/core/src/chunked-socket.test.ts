/**
 * The body framed here and written to the socket (chunked-socket.ts): exact chunks on the
 * wire for text, bytes, heartbeats and bursts; a keep-alive socket left as it was found;
 * and the cases that must keep `res.write()` (HTTP/1.0, HEAD, a wrapped write, a
 * pipelined response).
 */
import { OutgoingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createChannel } from './channel.js'
import type { EventStream } from './stream.js'
import { Cleanup, RawClient, rawGet, startServer, waitFor } from './test-utils/index.js'
import { createEventStream } from './transport-node.js'

const cleanup = new Cleanup()
afterEach(() => {
  vi.restoreAllMocks()
  return cleanup.run()
})

/**
 * Decodes a chunked body strictly: every size line, every chunk's CRLF, the last chunk.
 * Returns the body and what follows the last chunk (a next response on a kept-alive socket).
 */
function decodeChunked(bytes: Buffer): { body: string; sizes: number[]; rest: Buffer } {
  const sizes: number[] = []
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    if (lineEnd === -1) throw new Error(`no size line at ${at}`)
    const line = bytes.subarray(at, lineEnd).toString('latin1')
    if (!/^[0-9a-f]+$/.test(line)) throw new Error(`bad size line ${JSON.stringify(line)}`)
    const size = Number.parseInt(line, 16)
    at = lineEnd + 2
    if (size === 0) {
      if (bytes.subarray(at, at + 2).toString('latin1') !== '\r\n') throw new Error('no final CRLF')
      return { body: Buffer.concat(parts).toString('utf8'), sizes, rest: bytes.subarray(at + 2) }
    }
    parts.push(bytes.subarray(at, at + size))
    sizes.push(size)
    at += size
    if (bytes.subarray(at, at + 2).toString('latin1') !== '\r\n') {
      throw new Error(`chunk of ${size} not followed by CRLF`)
    }
    at += 2
  }
}

function split(bytes: Buffer): { head: string; rest: Buffer } {
  const end = bytes.indexOf('\r\n\r\n')
  return { head: bytes.subarray(0, end).toString('latin1'), rest: bytes.subarray(end + 4) }
}

const ended = (bytes: Buffer) => bytes.includes('\r\n0\r\n\r\n')

describe('a chunked HTTP/1.1 body written to the socket', () => {
  it('frames text (multibyte, a lone surrogate), broadcast bytes, heartbeats and a burst as exact chunks', async () => {
    const channel = createChannel()
    let stream!: EventStream
    let res!: ServerResponse
    const server = await startServer((req, r) => {
      res = r
      stream = createEventStream(req, r, { heartbeat: 1000 })
      channel.subscribe(stream)
    })
    cleanup.add(server, (s) => s.close())
    const client = await RawClient.send(server.port, rawGet('/'))
    cleanup.add(client, (c) => c.destroy())
    await waitFor(() => channel.size === 1)
    await client.waitForBytes((b) => b.includes('\r\n\r\n'))

    // Not one frame goes through res.write(): they are framed here.
    const resWrite = vi.spyOn(OutgoingMessage.prototype, 'write')
    await stream.send({ event: 'é', data: 'naïve ✓ 😀 \ud800 end' })
    channel.publish({ data: { n: 1 } })
    channel.publish({ data: { n: 2 } })
    for (let i = 0; i < 100; i++) void stream.send(`burst ${i}`)
    // The heartbeat, written alone, on its own time.
    await client.waitForBytes((b) => b.includes('\r\n:\n\n\r\n'), 5000)
    stream.close()
    const bytes = await client.waitForBytes(ended)

    const { head, rest } = split(bytes)
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(head).toMatch(/\r\ntransfer-encoding: chunked/i)
    const { body, sizes } = decodeChunked(rest)
    const burst = Array.from({ length: 100 }, (_, i) => `data: burst ${i}\n\n`).join('')
    expect(body).toBe(
      `event: é\ndata: naïve ✓ 😀 \ufffd end\n\ndata: {"n":1}\n\ndata: {"n":2}\n\n${burst}:\n\n`,
    )
    // One chunk per frame: 1 + 2 + 100 + the heartbeat.
    expect(sizes).toHaveLength(104)
    expect(resWrite).not.toHaveBeenCalled()
    expect(res.writableEnded).toBe(true)
  })

  it('leaves a kept-alive socket as it found it: the next request on it gets a whole answer', async () => {
    let socket: Socket | undefined
    let baseline = 0
    const server = await startServer((req, res) => {
      if (req.url === '/plain') {
        res.end('plain answer')
        return
      }
      socket = res.socket as Socket
      baseline = socket.listenerCount('drain')
      const stream = createEventStream(req, res, { heartbeat: false })
      void stream.send('only').then(() => stream.close())
    })
    cleanup.add(server, (s) => s.close())
    const client = await RawClient.send(server.port, rawGet('/'))
    cleanup.add(client, (c) => c.destroy())
    await client.waitForBytes(ended)
    client.socket.write(rawGet('/plain'))
    const bytes = await client.waitForBytes((b) => b.includes('plain answer'))

    const first = decodeChunked(split(bytes).rest)
    expect(first.body).toBe('data: only\n\n')
    const second = split(first.rest)
    expect(second.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(second.rest.toString('latin1')).toBe('plain answer')
    expect(socket!.listenerCount('drain')).toBe(baseline)
  })

  it('ends a stream whose response the application ended itself: nothing follows the end, sends resolve false', async () => {
    const late: boolean[] = []
    const streams: EventStream[] = []
    const server = await startServer((req, res) => {
      if (req.url === '/plain') {
        res.end('plain answer')
        return
      }
      // /wrapped goes through res.write() (a wrapper, as compression middleware makes).
      if (req.url === '/wrapped') res.write = res.write.bind(res)
      const stream = createEventStream(req, res, { heartbeat: false })
      streams.push(stream)
      void (async () => {
        await stream.send('A')
        res.end()
        late.push(await stream.send('late'))
      })()
    })
    cleanup.add(server, (s) => s.close())
    for (const path of ['/', '/wrapped']) {
      const client = await RawClient.send(server.port, rawGet(path))
      cleanup.add(client, (c) => c.destroy())
      await client.waitForBytes(ended)
      await waitFor(() => late.length === streams.length && streams.at(-1)!.closed)
      client.socket.write(rawGet('/plain'))
      const bytes = await client.waitForBytes((b) => b.includes('plain answer'))
      const first = decodeChunked(split(bytes).rest)
      expect(first.body, path).toBe('data: A\n\n')
      const second = split(first.rest)
      expect(second.head, path).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(second.rest.toString('latin1'), path).toBe('plain answer')
    }
    expect(late).toEqual([false, false])
  })

  it('writes an HTTP/1.0 body unframed, and a HEAD answer with no body', async () => {
    const resWrite = vi.spyOn(OutgoingMessage.prototype, 'write')
    const server = await startServer((req, res) => {
      const stream = createEventStream(req, res, { heartbeat: false })
      void stream.send('one')
      void stream.send('two').then(() => stream.close())
    })
    cleanup.add(server, (s) => s.close())
    const old = await RawClient.send(server.port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n')
    cleanup.add(old, (c) => c.destroy())
    const oldBytes = await old.waitForClose()
    const oldAnswer = split(oldBytes)
    expect(oldAnswer.head).not.toMatch(/transfer-encoding/i)
    expect(oldAnswer.rest.toString()).toBe('data: one\n\ndata: two\n\n')
    expect(resWrite).toHaveBeenCalledTimes(2)

    const head = await RawClient.send(server.port, rawGet('/').replace('GET', 'HEAD'))
    cleanup.add(head, (c) => c.destroy())
    const headBytes = await head.waitForBytes((b) => b.includes('\r\n\r\n'))
    // Nothing may follow a HEAD answer's head; wait for a write that would be too late.
    await new Promise((resolve) => setImmediate(resolve))
    expect(split(headBytes).rest.length).toBe(0)
  })

  it('goes through a write that middleware wrapped (compression, say)', async () => {
    const seen: string[] = []
    const server = await startServer((req, res) => {
      const write = res.write.bind(res) as (chunk: unknown) => boolean
      res.write = ((chunk: unknown) => {
        seen.push(String(chunk))
        return write(chunk)
      }) as typeof res.write
      const stream = createEventStream(req, res, { heartbeat: false })
      void stream.send('wrapped').then(() => stream.close())
    })
    cleanup.add(server, (s) => s.close())
    const client = await RawClient.send(server.port, rawGet('/'))
    cleanup.add(client, (c) => c.destroy())
    const bytes = await client.waitForBytes(ended)
    expect(decodeChunked(split(bytes).rest).body).toBe('data: wrapped\n\n')
    expect(seen).toEqual(['data: wrapped\n\n'])
  })

  it('answers pipelined requests in order, each body whole', async () => {
    const server = await startServer((req, res) => {
      const stream = createEventStream(req, res, { heartbeat: false })
      void stream.send(`for ${req.url}`).then(() => stream.close())
    })
    cleanup.add(server, (s) => s.close())
    const client = await RawClient.send(server.port, rawGet('/a') + rawGet('/b'))
    cleanup.add(client, (c) => c.destroy())
    const bytes = await client.waitForBytes((b) => b.toString().split('\r\n0\r\n\r\n').length === 3)
    const first = decodeChunked(split(bytes).rest)
    expect(first.body).toBe('data: for /a\n\n')
    expect(decodeChunked(split(first.rest).rest).body).toBe('data: for /b\n\n')
  })
})
