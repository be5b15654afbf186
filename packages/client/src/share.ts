/**
 * One connection for all the tabs of an origin (browser only): the tab holding a Web Lock
 * named after the request runs it and posts its events on a `BroadcastChannel`; the other
 * tabs wait for the lock and read the channel. When the holder goes (closed, or its tab
 * closed: the browser releases the lock), the next tab takes the lock and reconnects from the
 * last id it saw, to the URL the stream resumes at.
 */
import {
  CLOSED,
  Connection,
  type ConnectionSink,
  type Driver,
  type ReadyState,
  type SseCloseInfo,
} from './connection.js'
import { SseClientError, type SseClientErrorCode } from './errors.js'
import type { Resolved } from './options.js'

/** What sharing needs from the platform (a test passes its own). */
export interface ShareDeps {
  readonly locks: Pick<LockManager, 'request'>
  readonly BroadcastChannel: new (name: string) => BroadcastChannel
}

/** The platform's Web Locks and `BroadcastChannel`, or undefined where either is missing. */
export function shareDeps(): ShareDeps | undefined {
  const g = globalThis as {
    navigator?: { locks?: Pick<LockManager, 'request'> }
    BroadcastChannel?: ShareDeps['BroadcastChannel']
  }
  const locks = g.navigator?.locks
  if (typeof locks?.request !== 'function' || typeof g.BroadcastChannel !== 'function') {
    return undefined
  }
  return { locks, BroadcastChannel: g.BroadcastChannel }
}

type Message =
  | { readonly t: 'event'; readonly event: string; readonly data: string; readonly id: string }
  | { readonly t: 'state'; readonly url: string; readonly lastEventId: string }
  | { readonly t: 'hello' }
  | {
      readonly t: 'end'
      readonly reason: 'done' | 'failed'
      readonly code?: SseClientErrorCode
      readonly message?: string
      readonly status?: number | undefined
    }

/** cyrb53: a 53-bit string hash, so that names carry no header or body in clear. */
function hash(text: string): string {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)
}

/**
 * The name of a request: tabs that make the same request share one connection (where each
 * starts from, `lastEventId`, is not part of it).
 */
export function shareName(o: Resolved): string {
  const body =
    o.body === undefined ? '' : typeof o.body === 'string' ? o.body : String(o.body as object)
  const headers = [...o.headers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `ssekit:${hash(JSON.stringify([o.method, o.url, headers, body, o.credentials ?? '']))}`
}

export class SharedConnection implements Driver {
  readonly #o: Resolved
  readonly #sink: ConnectionSink
  readonly #deps: ShareDeps
  readonly #name: string
  #channel: BroadcastChannel | undefined
  #url: string
  #lastEventId: string
  #leader: Connection | undefined
  #lockAbort = new AbortController()
  #stopped = false
  #end: ((info: SseCloseInfo) => void) | undefined

  constructor(o: Resolved, sink: ConnectionSink, deps: ShareDeps) {
    this.#o = o
    this.#sink = sink
    this.#deps = deps
    this.#name = shareName(o)
    this.#url = o.url
    this.#lastEventId = o.lastEventId
  }

  get url(): string {
    return this.#leader?.url ?? this.#url
  }

  get lastEventId(): string {
    return this.#leader?.lastEventId ?? this.#lastEventId
  }

  get readyState(): ReadyState {
    if (this.#stopped) return 'closed'
    return this.#leader?.readyState ?? 'open'
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#leader?.stop()
    this.#lockAbort.abort()
    this.#end?.(CLOSED)
  }

  run(): Promise<SseCloseInfo> {
    const ended = new Promise<SseCloseInfo>((resolve) => {
      this.#end = resolve
    })
    const channel = new this.#deps.BroadcastChannel(this.#name)
    this.#channel = channel
    channel.onmessage = (e: MessageEvent<Message>) => this.#receive(e.data)
    this.#post({ t: 'hello' })
    const granted = this.#deps.locks.request(this.#name, { signal: this.#lockAbort.signal }, () =>
      this.#lead(),
    ) as unknown as Promise<SseCloseInfo | undefined>
    granted.then(
      (info) => {
        if (info !== undefined) this.#end?.(info)
      },
      () => {
        // Aborted while waiting for the lock: the source is closing.
        this.#end?.(CLOSED)
      },
    )
    return ended.then((info) => {
      this.#stopped = true
      this.#end = undefined
      this.#lockAbort.abort()
      this.#leader?.stop()
      channel.onmessage = null
      channel.close()
      this.#channel = undefined
      return info
    })
  }

  #post(message: Message): void {
    try {
      this.#channel?.postMessage(message)
    } catch {
      // A closed channel: this tab is leaving.
    }
  }

  #receive(message: Message): void {
    if (this.#stopped) return
    const leader = this.#leader
    switch (message.t) {
      case 'hello':
        if (leader !== undefined) {
          this.#post({ t: 'state', url: leader.url, lastEventId: leader.lastEventId })
        }
        return
      case 'state':
        if (leader !== undefined) return
        this.#url = message.url
        this.#lastEventId = message.lastEventId
        return
      case 'event':
        if (leader !== undefined) return
        this.#lastEventId = message.id
        try {
          this.#sink.event(message)
        } catch (error) {
          this.#end?.({
            reason: 'failed',
            error:
              error instanceof SseClientError
                ? error
                : new SseClientError('ERR_SSE_INVALID_DATA', String(error), { cause: error }),
          })
        }
        return
      case 'end':
        if (leader !== undefined) return
        this.#stopped = true
        this.#end?.(
          message.reason === 'done'
            ? { reason: 'done' }
            : {
                reason: 'failed',
                error: new SseClientError(
                  message.code ?? 'ERR_SSE_NETWORK',
                  message.message ?? '',
                  { status: message.status },
                ),
              },
        )
    }
  }

  /** This tab holds the lock: run the connection, from where the stream is, for every tab. */
  async #lead(): Promise<SseCloseInfo | undefined> {
    // Let messages already posted by the previous holder arrive first: when it ended the
    // stream for every tab, its `end` is likely among them (if not, this tab reconnects once
    // from the last id and is told 204).
    await new Promise((resolve) => setTimeout(resolve, 0))
    if (this.#stopped) return undefined
    const sink = this.#sink
    const connection = new Connection(
      this.#o,
      {
        event: (ev) => {
          this.#post({ t: 'event', event: ev.event, data: ev.data, id: ev.id })
          sink.event(ev)
        },
        id: (id) => {
          this.#post({ t: 'state', url: connection.url, lastEventId: id })
          sink.id(id)
        },
        open: (response, url) => {
          this.#post({ t: 'state', url, lastEventId: connection.lastEventId })
          sink.open(response, url)
        },
        ready: () => sink.ready(),
        retry: (attempt, delay, error) => sink.retry(attempt, delay, error),
      },
      { url: this.#url, lastEventId: this.#lastEventId },
    )
    this.#leader = connection
    const info = await connection.run()
    this.#url = connection.url
    this.#lastEventId = connection.lastEventId
    this.#leader = undefined
    if (info.reason === 'closed') return undefined
    // The stream is over for every tab.
    this.#post(
      info.reason === 'done'
        ? { t: 'end', reason: 'done' }
        : {
            t: 'end',
            reason: 'failed',
            code: info.error.code,
            message: info.error.message,
            status: info.error.status,
          },
    )
    return info
  }
}
