import { SseError } from '@ssekit/core'

/**
 * What ssekit needs of a node-redis client (`redis` or `@redis/client`, v4.6 to v6): it only
 * ever calls `duplicate()` on yours, and runs everything on its own duplicates.
 */
export interface RedisClientLike {
  duplicate(overrides?: Record<string, unknown>): RedisConnectionLike
}

/** A node-redis client as ssekit drives it. */
export interface RedisConnectionLike {
  connect(): Promise<unknown>
  destroy(): void
  on(event: 'error' | 'ready' | 'end' | 'reconnecting', fn: (...args: unknown[]) => void): unknown
  sendCommand<T = unknown>(args: readonly string[], options?: { timeout?: number }): Promise<T>
  subscribe(
    channels: string | string[],
    listener: (message: string, channel: string) => void,
  ): Promise<void>
  unsubscribe(
    channels?: string | string[],
    listener?: (message: string, channel: string) => void,
  ): Promise<void>
  readonly isReady: boolean
}

/** Timing of a managed connection. */
export interface ConnectionTiming {
  /** A command not answered within this is rejected (and never resent). */
  commandTimeoutMs: number
  /** How often the connection is checked; one that does not answer is replaced. */
  healthCheckMs: number
}

/** Reconnect delays: exponential from 100 ms, capped at 1 s, jittered (half to all of it). */
export function reconnectDelay(retries: number): number {
  const cap = Math.min(1000, 100 * 2 ** Math.min(retries, 10))
  return Math.round(cap / 2 + (Math.random() * cap) / 2)
}

/**
 * One connection of ssekit's own, duplicated from the user's client: an error listener so
 * that a dropped socket never crashes the process, commands that fail at once while it is
 * away (no offline queue, so nothing is resent twice after a reconnect) and time out, a
 * jittered reconnect, and a health check that replaces a connection that stopped answering
 * without an error (a half-dead socket).
 */
export class ManagedConnection {
  readonly #base: RedisClientLike
  readonly #timing: ConnectionTiming
  readonly #onError: (error: unknown) => void
  /** Called after a (re)connect, to subscribe again and catch up. */
  readonly #onReady: (client: RedisConnectionLike, again: boolean) => void | Promise<void>
  #client: RedisConnectionLike
  #connected: Promise<unknown>
  #readyOnce = false
  #closed = false
  #timer: ReturnType<typeof setInterval> | undefined
  #checking = false

  constructor(
    base: RedisClientLike,
    timing: ConnectionTiming,
    onError: (error: unknown) => void,
    onReady: (client: RedisConnectionLike, again: boolean) => void | Promise<void>,
    /** The health check: resolves when the connection answers end to end. */
    readonly probe: (connection: ManagedConnection) => Promise<unknown>,
  ) {
    this.#base = base
    this.#timing = timing
    this.#onError = onError
    this.#onReady = onReady
    this.#client = this.#make()
    this.#connected = this.#connect(this.#client)
    this.#timer = setInterval(() => void this.#check(), timing.healthCheckMs)
    this.#timer.unref?.()
  }

  /** The client right now (it changes when a dead one is replaced). */
  get client(): RedisConnectionLike {
    return this.#client
  }

  /** Resolves once the first connection is up (rejects if it could not be made). */
  get connected(): Promise<unknown> {
    return this.#connected
  }

  /** Runs one command, failing fast with an `SseError` that says what failed. */
  async send<T>(args: readonly string[], what: string): Promise<T> {
    if (this.#closed) throw unavailable(what, new Error('the store is closed'))
    const client = this.#client
    const timeoutMs = this.#timing.commandTimeoutMs
    // Our own deadline over the whole call, the wait for a connection included: a Redis that
    // accepts connections and never answers (a stopped process, a half-dead socket) must not
    // hang the caller, whatever the client's own timeouts do.
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError()), timeoutMs)
    })
    try {
      return await Promise.race([
        (async () => {
          await this.#connected
          return client.sendCommand<T>(args, { timeout: timeoutMs })
        })(),
        deadline,
      ])
    } catch (error) {
      if (isReplyError(error)) throw error
      // A command that timed out may still be answered later, and that answer would be
      // taken for the next command's: the connection cannot be trusted any more.
      const name = (error as { name?: string } | null)?.name
      if (name === 'TimeoutError' || error instanceof DeadlineError) this.#replace(client)
      throw unavailable(what, error, timeoutMs)
    } finally {
      clearTimeout(timer)
    }
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#timer)
    this.#client.destroy()
  }

  /** Swaps `dead` for a new connection (once, however many callers saw it fail). */
  #replace(dead: RedisConnectionLike): void {
    if (this.#closed || dead !== this.#client) return
    this.#client = this.#make()
    this.#connected = this.#connect(this.#client)
    dead.destroy()
  }

  #make(): RedisConnectionLike {
    const client = this.#base.duplicate({
      disableOfflineQueue: true,
      socket: { reconnectStrategy: reconnectDelay, connectTimeout: this.#timing.commandTimeoutMs },
    })
    // Without a listener, an 'error' event would crash the process.
    client.on('error', (error) => {
      if (!this.#closed) {
        this.#onError(error instanceof SseError ? error : unavailable('a connection', error))
      }
    })
    client.on('ready', () => {
      if (this.#closed || client !== this.#client) return
      const again = this.#readyOnce
      this.#readyOnce = true
      void Promise.resolve(this.#onReady(client, again)).catch(this.#onError)
    })
    return client
  }

  #connect(client: RedisConnectionLike): Promise<unknown> {
    const connecting = client.connect()
    connecting.catch(() => {})
    return connecting
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#closed) return
    this.#checking = true
    try {
      await this.#connected
      if (!this.#client.isReady) return // reconnecting already: its own strategy runs
      await this.probe(this)
    } catch (error) {
      if (this.#closed) return
      // No answer and no error: a half-dead socket. Replace the connection.
      this.#onError(
        new SseError(
          'ERR_SSE_STORE_UNAVAILABLE',
          '@ssekit/redis: a Redis connection stopped answering; replacing it.',
          { cause: error },
        ),
      )
      this.#replace(this.#client)
    } finally {
      this.#checking = false
    }
  }
}

/** Our deadline ran out before Redis answered. */
class DeadlineError extends Error {
  override readonly name = 'TimeoutError'
  constructor() {
    super('no answer in time')
  }
}

function isReplyError(error: unknown): boolean {
  const name = (error as { constructor?: { name?: string } } | null)?.constructor?.name
  return name === 'SimpleError' || name === 'BlobError' || name === 'ErrorReply'
}

/** The error of a command Redis did not answer. */
export function unavailable(what: string, cause: unknown, timeoutMs?: number): SseError {
  const why =
    (cause as { name?: string } | null)?.name === 'TimeoutError' && timeoutMs !== undefined
      ? `Redis did not answer within ${timeoutMs} ms`
      : `Redis is unreachable (${(cause as Error)?.message ?? String(cause)})`
  return new SseError('ERR_SSE_STORE_UNAVAILABLE', `@ssekit/redis: ${what} failed: ${why}.`, {
    cause,
  })
}
