import type { LogListener, StoredEvent } from '@ssekit/core'
import {
  type ConnectionTiming,
  ManagedConnection,
  type RedisClientLike,
  type RedisConnectionLike,
} from './connection.js'
import { newEpoch } from './ids.js'

type Raw = (message: string) => void

/**
 * The one pub/sub connection of a store (or broker): a SUBSCRIBE per followed name, on one
 * socket however many names. After a reconnect it subscribes again and tells every follower
 * to catch up from the log (`resync`), since messages may have been missed meanwhile. Its
 * health check publishes to a channel of its own and waits to hear it back.
 */
export class Subscriber {
  readonly #connection: ManagedConnection
  readonly #commands: ManagedConnection
  readonly #raw = new Map<string, Set<Raw>>()
  /** The SUBSCRIBE of a channel, until Redis confirmed it. */
  readonly #subscribing = new Map<string, Promise<void>>()
  readonly #logs = new Map<string, { listeners: Set<LogListener>; off: () => void }>()
  readonly #health: string
  readonly #timeoutMs: number
  #waiting: (() => void) | undefined

  constructor(
    base: RedisClientLike,
    timing: ConnectionTiming,
    onError: (error: unknown) => void,
    commands: ManagedConnection,
    prefix: string,
  ) {
    this.#commands = commands
    this.#timeoutMs = timing.commandTimeoutMs
    this.#health = `${prefix}health:${newEpoch()}`
    this.#connection = new ManagedConnection(
      base,
      timing,
      onError,
      (client, again) => this.#ready(client, again),
      () => this.#probe(),
    )
    this.#raw.set(this.#health, new Set([() => this.#waiting?.()]))
  }

  /** Calls `fn` with every message on `channel`; returns the remover. */
  listen(channel: string, fn: Raw): () => void {
    let set = this.#raw.get(channel)
    if (set === undefined) {
      set = new Set()
      this.#raw.set(channel, set)
      this.#subscribing.set(channel, this.#subscribe([channel]))
    }
    const one: Raw = (message) => fn(message)
    set.add(one)
    return () => {
      set.delete(one)
      if (set.size > 0 || this.#raw.get(channel) !== set) return
      this.#raw.delete(channel)
      // With our listener: node-redis then knows the channel is on its way out, and a
      // subscribe that comes before the reply subscribes again instead of being lost.
      void this.#connection.connected
        .then(() => this.#connection.client.unsubscribe(channel, this.#dispatch))
        .catch(() => {})
    }
  }

  /** Follows a log's channel: entries go to `listener`, in the order they are heard. */
  follow(
    channel: string,
    listener: LogListener,
    decode: (message: string) => StoredEvent | undefined,
  ): () => void {
    let log = this.#logs.get(channel)
    if (log === undefined) {
      const listeners = new Set<LogListener>()
      const off = this.listen(channel, (message) => {
        const entry = decode(message)
        if (entry !== undefined) for (const l of listeners) l.entry(entry)
      })
      log = { listeners, off }
      this.#logs.set(channel, log)
      // Until Redis confirms the SUBSCRIBE, an append is not heard: once it has, followers
      // catch up from the log (the hub reads after the position it knows).
      const confirmed = this.#subscribing.get(channel)
      const current = log
      void confirmed?.then(() => {
        if (this.#logs.get(channel) === current) for (const l of listeners) l.resync()
      })
    }
    const one: LogListener = { entry: (e) => listener.entry(e), resync: () => listener.resync() }
    const current = log
    current.listeners.add(one)
    return () => {
      current.listeners.delete(one)
      if (current.listeners.size > 0 || this.#logs.get(channel) !== current) return
      this.#logs.delete(channel)
      current.off()
    }
  }

  /** Hands this process's own append to its followers at once (the pub/sub copy is skipped by seq). */
  local(channel: string, entry: StoredEvent): void {
    const log = this.#logs.get(channel)
    if (log !== undefined) for (const l of log.listeners) l.entry(entry)
  }

  close(): void {
    this.#connection.close()
  }

  async #subscribe(channels: string[]): Promise<void> {
    try {
      await this.#connection.connected
      const client = this.#connection.client
      for (let i = 0; i < channels.length; i += 1000) {
        const batch = channels.slice(i, i + 1000)
        await client.subscribe(batch, this.#dispatch)
      }
    } catch {
      // Not connected now: #ready subscribes everything once it is (and resyncs).
    } finally {
      for (const channel of channels) this.#subscribing.delete(channel)
    }
  }

  #dispatch = (message: string, channel: string): void => {
    const set = this.#raw.get(channel)
    if (set !== undefined) for (const fn of set) fn(message)
  }

  async #ready(client: RedisConnectionLike, again: boolean): Promise<void> {
    const channels = [...this.#raw.keys()]
    for (let i = 0; i < channels.length; i += 1000) {
      await client.subscribe(channels.slice(i, i + 1000), this.#dispatch)
    }
    // Messages may have been lost while the connection was down: catch up from the logs.
    if (again) for (const log of this.#logs.values()) for (const l of log.listeners) l.resync()
  }

  /** Publishes to our own health channel and waits to hear it: the whole path works. */
  #probe(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined
        reject(new Error(`no pub/sub answer within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      this.#waiting = () => {
        clearTimeout(timer)
        this.#waiting = undefined
        resolve()
      }
      this.#commands.send(['PUBLISH', this.#health, '1'], 'a health check').catch((error) => {
        clearTimeout(timer)
        this.#waiting = undefined
        reject(error)
      })
    })
  }
}
