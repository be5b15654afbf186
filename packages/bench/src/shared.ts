/**
 * What every target serves and the client expects: the same event, byte for byte (up to
 * the spelling of the field separators, see the README), and the same routes.
 */
import { once } from 'node:events'
import type { Server, ServerResponse } from 'node:http'

/** The event's payload: serialized by each library as its users would have it serialized. */
export const DATA = { s: 'ACME', p: 10.5 }
export const EVENT = 'tick'
export const ID = '42'
/**
 * The frame every target produces, 48 bytes (the size of the events in the performance
 * issue); the floors write exactly these bytes.
 */
export const FRAME = `event: ${EVENT}\nid: ${ID}\ndata: ${JSON.stringify(DATA)}\n\n`
if (Buffer.byteLength(FRAME) !== 48)
  throw new Error(`the frame is ${Buffer.byteLength(FRAME)} B, not 48`)

/** The response headers the hand-written targets send. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
}

/** A target's server process reports these through `Hooks`. */
export interface Hooks {
  /** Called by `/stream` handlers just before their first send. */
  streamStarted(): void
}

/**
 * A running target. It serves `GET /events` (joins the broadcast; stays open) and
 * `GET /stream?n=K` (sends K events to this one client, honouring backpressure).
 */
export interface Running {
  port: number
  /** The node:http server underneath, whose listeners the churn report counts. */
  server: Server
  /** Sends one event to every `/events` client. */
  publish(): void
  /** `/events` clients that `publish` reaches right now. */
  subscribers(): number
  /** ssekit targets: `getMetrics().openStreams`, streams the library itself counts open. */
  openStreams?(): number
}

export type Start = (hooks: Hooks) => Promise<Running>

/** Listens on a loopback port chosen by the system, with room for 1,000 connects at once. */
export async function listen(server: Server): Promise<number> {
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}

/** The `n` query parameter of `/stream?n=K`. */
export function streamCount(url: string | undefined): number {
  const n = Number(new URL(url ?? '/', 'http://x').searchParams.get('n'))
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`bad /stream count in ${url}`)
  return n
}

/** Monotonic time in nanoseconds, comparable between processes on one machine (CLOCK_MONOTONIC). */
export function now(): number {
  return Number(process.hrtime.bigint())
}

/**
 * What every floor does by hand once the framework has handed it a Node response: open it,
 * keep `/events` responses to write the pre-built frame to, write `/stream`'s frames while
 * honouring backpressure.
 */
export function handWritten(hooks: Hooks) {
  const frame = Buffer.from(FRAME)
  const clients = new Set<ServerResponse>()
  return {
    /** Sends the head now. */
    open(res: ServerResponse): ServerResponse {
      res.writeHead(200, SSE_HEADERS)
      res.flushHeaders()
      return res
    },
    /** Joins `/events`. */
    follow(res: ServerResponse): void {
      clients.add(res)
      res.on('close', () => clients.delete(res))
    },
    /** `/stream?n=K`: K frames, waiting for drain only when a write says so. */
    async stream(res: ServerResponse, url: string | undefined): Promise<void> {
      const n = streamCount(url)
      hooks.streamStarted()
      for (let i = 0; i < n; i++) {
        if (!res.write(frame)) await once(res, 'drain')
      }
    },
    publish(): void {
      for (const res of clients) res.write(frame)
    },
    subscribers: () => clients.size,
  }
}
