/**
 * The body of a node:http response written straight to its socket, framed as HTTP/1.1
 * chunks here, instead of through `res.write()`.
 *
 * `res.write()` frames every chunk again (its size line, the data, a CRLF: three writes),
 * corks the socket and queues a `nextTick` per response, and walks the framework's response
 * object (Express swaps its prototype, which makes every property read there slower). An
 * event stream only ever writes whole frames, so it can frame a broadcast's bytes once for
 * every subscriber, cork each socket once per tick, and uncork them all from one `nextTick`:
 * what a broadcast costs per subscriber is one buffered write, and a socket still gets one
 * syscall per tick however many frames it was given (the same as `res.write()`).
 *
 * Only where nothing else handles the body: a plain chunked HTTP/1.1 response whose
 * `write`/`end` nobody wrapped (compression middleware does) and that owns its socket now.
 * Elsewhere (HTTP/2, HTTP/1.0, a HEAD request, a pipelined response, Bun, Deno) the
 * transport keeps `res.write()`.
 */
import type { Chunk } from './encode.js'

/** What is used of a `net.Socket`. */
export interface RawSocket {
  write(data: Uint8Array | string): boolean
  cork(): void
  uncork(): void
  readonly writableLength: number
  readonly writableCorked: number
  readonly writable: boolean
  readonly destroyed: boolean
  on(event: 'drain', fn: () => void): unknown
  removeListener(event: 'drain', fn: () => void): unknown
}

type NodeBuffer = { allocUnsafe(size: number): Uint8Array }
const runtime = (
  globalThis as {
    process?: {
      release?: { name?: string }
      versions?: Record<string, string | undefined>
      nextTick?: (fn: () => void) => void
    }
  }
).process
const nextTick = runtime?.nextTick
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer
/** Node itself: Bun and Deno emulate node:http over their own servers. */
const isNode =
  runtime?.release?.name === 'node' &&
  runtime.versions?.bun === undefined &&
  runtime.versions?.deno === undefined &&
  typeof nextTick === 'function' &&
  nodeBuffer !== undefined

const hasOwn = Object.prototype.hasOwnProperty

/**
 * The socket to write `res`'s body to, framed here, or `undefined` to keep `res.write()`.
 * Call after the head was flushed.
 */
export function chunkedSocketOf(res: object): RawSocket | undefined {
  if (!isNode) return undefined
  const r = res as {
    chunkedEncoding?: boolean
    _hasBody?: boolean
    socket?: (RawSocket & { _httpMessage?: unknown }) | null
  }
  // Set by node:http once the head chose chunked encoding (not HTTP/1.0, not HTTP/2).
  if (r.chunkedEncoding !== true || r._hasBody !== true) return undefined
  // A wrapped body (compression) must go through its wrapper.
  if (hasOwn.call(res, 'write') || hasOwn.call(res, 'end')) return undefined
  const socket = r.socket
  // A pipelined response waits for the one before it: its socket is not its own yet.
  if (socket == null || socket._httpMessage !== res || socket.writable !== true) return undefined
  if (typeof socket.cork !== 'function' || typeof socket.writableCorked !== 'number') {
    return undefined
  }
  return socket
}

/** Sockets corked during this tick, uncorked together by one `nextTick`. */
const corked: RawSocket[] = []
let flushQueued = false

function flush(): void {
  flushQueued = false
  // Each was corked once, here: uncork once (a socket ended meanwhile is already uncorked,
  // and uncork on it does nothing).
  for (let i = 0; i < corked.length; i++) corked[i]!.uncork()
  corked.length = 0
  lastBytes = undefined
  lastFramed = undefined
  lastText = undefined
  lastTextFramed = undefined
}

/**
 * Writes one frame as a chunk. `length` is its UTF-8 byte length (never 0). A `lone` write
 * (a heartbeat: likely the only one of its tick for that socket) goes out at once rather
 * than corked, which saves a buffered write; any other corks the socket until the tick ends.
 * Returns false when the socket is over its high-water mark or can no longer be written.
 */
export function writeChunk(
  socket: RawSocket,
  chunk: Chunk,
  length: number,
  lone: boolean,
): boolean {
  if (!socket.writable) return false
  if (!lone && socket.writableCorked === 0) {
    socket.cork()
    corked.push(socket)
    queueFlush()
  }
  return socket.write(typeof chunk === 'string' ? frameText(chunk, length) : frameBytes(chunk))
}

// A broadcast writes the same bytes (and a heartbeat the same text) to every socket in a
// row: each is framed once. Forgotten at the end of the tick, so nothing big stays held.
let lastBytes: Uint8Array | undefined
let lastFramed: Uint8Array | undefined
let lastText: string | undefined
let lastTextFramed: string | undefined

function frameBytes(bytes: Uint8Array): Uint8Array {
  if (bytes === lastBytes) return lastFramed!
  const size = bytes.byteLength.toString(16)
  const framed = nodeBuffer!.allocUnsafe(size.length + bytes.byteLength + 4)
  let at = 0
  for (; at < size.length; at++) framed[at] = size.charCodeAt(at)
  framed[at++] = 13
  framed[at++] = 10
  framed.set(bytes, at)
  at += bytes.byteLength
  framed[at++] = 13
  framed[at] = 10
  lastBytes = bytes
  lastFramed = framed
  queueFlush()
  return framed
}

function frameText(text: string, length: number): string {
  if (text === lastText) return lastTextFramed!
  const framed = `${length.toString(16)}\r\n${text}\r\n`
  // Only short texts are worth remembering (a heartbeat, a comment); comparing long ones
  // of equal length would cost more than it saves.
  if (text.length <= 64) {
    lastText = text
    lastTextFramed = framed
    queueFlush()
  }
  return framed
}

function queueFlush(): void {
  if (!flushQueued) {
    flushQueued = true
    nextTick!(flush)
  }
}
