import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { waitFor } from './wait.js'

/**
 * A free TCP port on 127.0.0.1, for a process that binds it later (redis-server, nginx).
 * Taken below Linux's ephemeral range (32768 and up), where neither outgoing connections nor
 * other servers' `listen(0)` in parallel tests can take it between this probe and the bind.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const server = net.createServer()
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (bound) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      return port
    }
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1')
}

/** A server listening on a free port of 127.0.0.1. */
export interface TestServer<S> {
  server: S
  port: number
  /** `http://127.0.0.1:PORT` followed by `path`. */
  url(path?: string): string
  /** Drops every connection and stops listening. Safe to call twice. */
  close(): Promise<void>
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  return (server.address() as AddressInfo).port
}

function closer(server: net.Server, drop: () => void): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      drop()
    })
    return closing
  }
}

/**
 * Starts a `node:http` server on port 0 of 127.0.0.1 with `handler`. `close()` destroys the
 * open connections (event streams never end by themselves) and waits for the server.
 */
export async function startServer(
  handler: http.RequestListener,
  options: http.ServerOptions = {},
): Promise<TestServer<http.Server>> {
  const server = http.createServer(options, handler)
  const sockets = new Set<net.Socket>()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const port = await listen(server)
  return {
    server,
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    close: closer(server, () => {
      for (const socket of sockets) socket.destroy()
    }),
  }
}

/**
 * Starts a cleartext HTTP/2 (h2c) server on port 0 of 127.0.0.1 with the compatibility
 * API `handler`. Connect to it with {@link h2Request}.
 */
export async function startH2cServer(
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): Promise<TestServer<http2.Http2Server>> {
  const server = http2.createServer(handler)
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  const port = await listen(server)
  return {
    server,
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    close: closer(server, () => {
      for (const session of sessions) session.destroy()
    }),
  }
}

/** An HTTP/2 request made with `node:http2`: response headers, then the body as it comes. */
export interface H2Response {
  session: http2.ClientHttp2Session
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader
  /** Body text read so far. */
  text(): string
  /** Resolves when the body ends. */
  ended: Promise<void>
  close(): void
}

/** Makes one HTTP/2 GET on a new session; resolves once the response headers arrive. */
export async function h2Request(
  origin: string,
  path = '/',
  headers: http2.OutgoingHttpHeaders = {},
): Promise<H2Response> {
  const session = http2.connect(origin)
  session.on('error', () => {})
  const req = session.request({ ':path': path, accept: 'text/event-stream', ...headers })
  req.setEncoding('utf8')
  let body = ''
  req.on('data', (chunk: string) => {
    body += chunk
  })
  const ended = new Promise<void>((resolve) => {
    req.once('end', resolve)
    req.once('close', resolve)
  })
  req.on('error', () => {})
  const responseHeaders = await new Promise<H2Response['headers']>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  return {
    session,
    headers: responseHeaders,
    text: () => body,
    ended,
    close: () => session.destroy(),
  }
}

/**
 * A raw TCP client: writes exactly the bytes it is given (hostile headers included) and
 * keeps every byte it receives, undecoded.
 */
export class RawClient {
  readonly socket: net.Socket
  readonly chunks: Buffer[] = []
  /** True once the server closed or reset the connection. */
  closed = false
  readonly #connected: Promise<void>

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.on('data', (chunk: Buffer) => this.chunks.push(chunk))
    this.socket.on('error', () => {})
    this.socket.once('close', () => {
      this.closed = true
    })
    this.#connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve)
      this.socket.once('error', reject)
    })
  }

  /** Connects to 127.0.0.1:`port` and sends `request` (a string is sent as latin1 bytes). */
  static async send(port: number, request: string | Buffer): Promise<RawClient> {
    const client = new RawClient(port)
    await client.#connected
    client.socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request)
    return client
  }

  /** Every byte received so far. */
  get bytes(): Buffer {
    return Buffer.concat(this.chunks)
  }

  /** Waits until the received bytes satisfy `predicate`. */
  async waitForBytes(predicate: (bytes: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    await waitFor(() => predicate(this.bytes), timeoutMs, 'RawClient.waitForBytes')
    return this.bytes
  }

  /** Waits until the server closes the connection. */
  async waitForClose(timeoutMs = 5000): Promise<Buffer> {
    await waitFor(() => this.closed, timeoutMs, 'RawClient.waitForClose')
    return this.bytes
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** A GET request for a raw socket, with the given extra header lines (no CRLF inside). */
export function rawGet(path: string, headerLines: string[] = []): string {
  return [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Accept: text/event-stream',
    ...headerLines,
    '',
    '',
  ].join('\r\n')
}

/** Splits a raw HTTP/1.1 response into its head and its body (chunked coding removed). */
export function splitResponse(bytes: Buffer): { head: string; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return { head: bytes.toString('latin1'), body: Buffer.alloc(0) }
  const head = bytes.subarray(0, end).toString('latin1')
  let rest = bytes.subarray(end + 4)
  if (!/^transfer-encoding:\s*chunked/im.test(head)) return { head, body: rest }
  const parts: Buffer[] = []
  for (;;) {
    const lineEnd = rest.indexOf('\r\n')
    if (lineEnd === -1) break
    const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) break
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size))
    rest = rest.subarray(lineEnd + 2 + size + 2)
  }
  return { head, body: Buffer.concat(parts) }
}
