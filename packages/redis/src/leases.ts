import { SseError, type StoreLease } from '@ssekit/core'
import type { ManagedConnection } from './connection.js'
import { newEpoch } from './ids.js'
import type { Scripts } from './script-runner.js'
import { EXPIRE_LEASE, LEASE, RELEASE } from './scripts.js'
import type { Subscriber } from './subscriber.js'

/** How often a process looks for leases whose holder died. */
const REAP_MS = 1000

/** What ends a log whose producer died. */
const LOST = JSON.stringify([JSON.stringify({ reason: 'producer-lost' }), 'error', null, 1, 0])
const END = JSON.stringify(['', null, null, 0, 1])

/** What the keeper needs of its store. */
export interface LeaseKeeperOptions {
  prefix: string
  scripts: Scripts
  commands: ManagedConnection
  subscriber: Subscriber
  keys: (name: string) => [string, string]
  endArgs: (name: string) => string[]
  onError: (error: unknown) => void
}

interface Held {
  readonly owner: string
  readonly controller: AbortController
  timer: ReturnType<typeof setInterval> | undefined
}

/**
 * Leases on named logs. The holder renews its lease every third of its TTL; every process
 * that follows a log (or holds a lease) looks once a second, in one command, for leases
 * that ran out, and ends those logs with an `error` event, in a script that only one of
 * them wins. A cancel is a message on one pub/sub channel, heard by the holder wherever it
 * runs. The lease index (a sorted set) is kept apart from the logs' keys, in commands of its
 * own, so that every script touches one hash slot.
 */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions
  readonly #held = new Map<string, Held>()
  readonly #index: string
  readonly #instance = newEpoch()
  #count = 0
  #reaper: ReturnType<typeof setInterval> | undefined
  #offCancel: (() => void) | undefined

  constructor(options: LeaseKeeperOptions) {
    this.#o = options
    this.#index = `${options.prefix}leases`
  }

  /** Starts looking for dead producers (once this process follows a log or holds a lease). */
  watch(): void {
    if (this.#reaper !== undefined) return
    this.#reaper = setInterval(() => void this.#reap().catch(this.#o.onError), REAP_MS)
    this.#reaper.unref?.()
  }

  async take(name: string, ttlMs: number): Promise<StoreLease> {
    const [, meta] = this.#o.keys(name)
    const owner = `${this.#instance}:${++this.#count}`
    let until: string
    try {
      until = await this.#o.scripts.run<string>(
        LEASE,
        [meta],
        [owner, String(ttlMs), newEpoch(), 'take'],
        `lease "${name.slice(0, 60)}"`,
      )
    } catch (error) {
      const message = String((error as Error)?.message)
      if (message.includes('LEASED')) {
        throw new SseError(
          'ERR_SSE_LEASED',
          `@ssekit/redis: log "${name.slice(0, 60)}" is already leased by another producer; one process generates a named log.`,
        )
      }
      if (message.includes('ENDED')) {
        throw new SseError(
          'ERR_SSE_LOG_ENDED',
          `@ssekit/redis: log "${name.slice(0, 60)}" has ended; it cannot be leased.`,
        )
      }
      throw error
    }
    await this.#o.commands.send(['ZADD', this.#index, until, name], 'index a lease')
    this.#offCancel ??= this.#o.subscriber.listen(`${this.#o.prefix}cancel`, (n) =>
      this.#held.get(n)?.controller.abort(),
    )
    this.watch()
    const held: Held = { owner, controller: new AbortController(), timer: undefined }
    this.#held.get(name)?.controller.abort()
    this.#held.set(name, held)
    held.timer = setInterval(() => void this.#renew(name, held, ttlMs), Math.max(50, ttlMs / 3))
    held.timer.unref?.()
    return {
      signal: held.controller.signal,
      release: async () => {
        this.#drop(name, held)
        await this.#o.scripts.run(RELEASE, [meta], [owner], `release "${name.slice(0, 60)}"`)
        await this.#o.commands.send(['ZREM', this.#index, name], 'unindex a lease')
      },
    }
  }

  async cancel(name: string): Promise<void> {
    // The holder may be this process: abort at once rather than wait for the echo.
    this.#held.get(name)?.controller.abort()
    await this.#o.commands.send(['PUBLISH', `${this.#o.prefix}cancel`, name], 'cancel')
  }

  /** The log ended: its lease (if held here) is over. */
  async forget(name: string): Promise<void> {
    const held = this.#held.get(name)
    if (held !== undefined) {
      held.controller.abort()
      this.#drop(name, held)
    }
    await this.#o.commands.send(['ZREM', this.#index, name], 'unindex a lease').catch(() => {})
  }

  close(): void {
    clearInterval(this.#reaper)
    this.#offCancel?.()
    for (const [name, held] of this.#held) this.#drop(name, held)
  }

  #drop(name: string, held: Held): void {
    clearInterval(held.timer)
    if (this.#held.get(name) === held) this.#held.delete(name)
  }

  async #renew(name: string, held: Held, ttlMs: number): Promise<void> {
    const [, meta] = this.#o.keys(name)
    try {
      const until = await this.#o.scripts.run<string>(
        LEASE,
        [meta],
        [held.owner, String(ttlMs), newEpoch(), 'renew'],
        `renew the lease on "${name.slice(0, 60)}"`,
      )
      await this.#o.commands.send(['ZADD', this.#index, until, name], 'index a lease')
    } catch (error) {
      const message = String((error as Error)?.message)
      if (message.includes('LOST') || message.includes('ENDED')) {
        // Another process ended the log (our lease ran out while Redis was away).
        held.controller.abort()
        this.#drop(name, held)
      } else this.#o.onError(error)
    }
  }

  async #reap(): Promise<void> {
    const [seconds, micros] = await this.#o.commands.send<[string, string]>(
      ['TIME'],
      'read the time',
    )
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
    const due = await this.#o.commands.send<string[]>(
      ['ZRANGEBYSCORE', this.#index, '-inf', String(now), 'LIMIT', '0', '100'],
      'look for expired leases',
    )
    for (const name of due) {
      const [stream, meta] = this.#o.keys(name)
      const state = await this.#o.scripts.run<number>(
        EXPIRE_LEASE,
        [stream, meta],
        [...this.#o.endArgs(name), LOST, END],
        `end "${name.slice(0, 60)}" after its producer died`,
      )
      // 0: renewed meanwhile, keep it indexed; 1: ended now; 2: nothing left to watch.
      if (state !== 0) await this.#o.commands.send(['ZREM', this.#index, name], 'unindex a lease')
    }
  }
}
