/**
 * Per-test bookkeeping for the conformance suite: every app, client and socket a test
 * makes is registered here and closed after the test, clients first, so nothing hangs.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { StreamOptions } from '@ssekit/core'
import { EventSource, type FetchLike } from 'eventsource'
import { afterEach } from 'vitest'
import { fetchSse, RawClient, type SseFetch, waitFor } from '../../../core/src/test-utils/index.js'
import type { Adapter, Route, RunningApp } from '../adapters.js'

/** A message as an `EventSource` listener sees it. */
export interface EsMessage {
  type: string
  data: string
  lastEventId: string
}

/** An `eventsource` client that records what it receives, for bounded waits. */
export class EsClient {
  readonly es: EventSource
  readonly messages: EsMessage[] = []
  opens = 0
  errors = 0

  constructor(url: string, init: { types?: string[]; fetch?: FetchLike } = {}) {
    this.es = new EventSource(url, init.fetch === undefined ? {} : { fetch: init.fetch })
    const record = (event: MessageEvent) => {
      this.messages.push({ type: event.type, data: event.data, lastEventId: event.lastEventId })
    }
    this.es.addEventListener('message', record)
    for (const type of init.types ?? []) this.es.addEventListener(type, record)
    this.es.addEventListener('open', () => {
      this.opens++
    })
    this.es.addEventListener('error', () => {
      this.errors++
    })
  }

  /** Waits until at least `n` messages arrived; resolves to all of them so far. */
  async waitForMessages(n: number, timeoutMs = 5000): Promise<EsMessage[]> {
    await waitFor(() => this.messages.length >= n, timeoutMs, `EventSource: ${n} messages`)
    return this.messages
  }

  close(): void {
    this.es.close()
  }
}

/** Bounds a promise: rejects with `what` once `timeoutMs` has passed. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** What a test uses to start apps and clients that are all closed after it. */
export interface Harness {
  start(adapter: Adapter, routes: Route[], options?: StreamOptions): Promise<RunningApp>
  eventSource(url: string, init?: { types?: string[]; fetch?: FetchLike }): EsClient
  fetchSse(url: string, init?: RequestInit): Promise<SseFetch>
  raw(port: number, request: string | Buffer): Promise<RawClient>
  /** Registers any other cleanup (run before the apps close). */
  defer(fn: () => unknown): void
}

/** Registers the `afterEach` that closes everything the test opened through the harness. */
export function useHarness(): Harness {
  const clients: (() => unknown)[] = []
  const apps: RunningApp[] = []
  const idle: { socket: Socket; used: boolean }[] = []
  afterEach(async () => {
    for (const close of clients.splice(0).reverse()) await close()
    // undici may open a spare connection when a fetch is aborted, and keep it for seconds;
    // it never carried a request, so it says nothing about the app: drop it.
    for (const socket of idle.splice(0)) if (!socket.used) socket.socket.destroy()
    const closing = apps.splice(0).map((app) => app.close({ retry: 0 }))
    await within(Promise.all(closing), 10_000, 'closing the apps')
  })
  return {
    async start(adapter, routes, options) {
      const app = await adapter.start(routes, options)
      apps.push(app)
      const seen = new Map<Socket, { socket: Socket; used: boolean }>()
      app.server.on('connection', (socket: Socket) => {
        const entry = { socket, used: false }
        seen.set(socket, entry)
        idle.push(entry)
      })
      app.server.on('request', (request: IncomingMessage) => {
        const entry = seen.get(request.socket)
        if (entry !== undefined) entry.used = true
      })
      return app
    },
    eventSource(url, init) {
      const client = new EsClient(url, init)
      clients.push(() => client.close())
      return client
    },
    async fetchSse(url, init) {
      const result = await fetchSse(url, init)
      clients.push(() => result.abort())
      return result
    },
    async raw(port, request) {
      const client = await RawClient.send(port, request)
      clients.push(() => client.destroy())
      return client
    },
    defer(fn) {
      clients.push(fn)
    },
  }
}

/** The port of an app's `http://127.0.0.1:PORT` url. */
export function portOf(app: RunningApp): number {
  return Number(new URL(app.url).port)
}
