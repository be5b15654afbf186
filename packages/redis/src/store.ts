import {
  checkLogName,
  type EventStore,
  type LogInfo,
  type LogListener,
  type ReadResult,
  SseError,
  type StoredEvent,
  type StoreInput,
  type StoreLease,
} from '@ssekit/core'
import { type ConnectionTiming, ManagedConnection, type RedisClientLike } from './connection.js'
import { newEpoch, parseId, wireId } from './ids.js'
import { LeaseKeeper } from './leases.js'
import { checkStoreOptions, type RedisEventStoreOptions, redisBase } from './options.js'
import { Scripts } from './script-runner.js'
import { APPEND, INFO, READ } from './scripts.js'
import { Subscriber } from './subscriber.js'

type Payload = [
  data: string,
  event: string | null,
  retry: number | null,
  serialized: 0 | 1,
  end: 0 | 1,
]

/**
 * The event store on Redis Streams: one stream per channel name under `prefix`, shared by
 * every instance. Appending and notifying are one Lua script (XADD and PUBLISH), so every
 * instance hears a log in its own order; each entry carries a gap-free sequence, and an
 * instance that misses a message (a dropped connection) reads it back from the stream. Ids
 * carry the log's epoch: a log Redis lost is never answered with the wrong events.
 *
 * It takes a node-redis client (`redis` / `@redis/client` v4.6 to v6) or a URL, and runs on
 * two connections of its own, duplicated from it, however many channels there are.
 *
 * @example
 * import { createClient } from 'redis'
 * const redis = createClient({ url: process.env.REDIS_URL })
 * const store = new RedisEventStore({ redis })
 * const answer = createChannel({ name: `answer:${id}`, store })
 */
export class RedisEventStore implements EventStore {
  readonly #prefix: string
  readonly #maxLen: number
  readonly #maxAgeMs: number
  readonly #endedTtlMs: number
  readonly #onError: (error: unknown) => void
  readonly #commands: ManagedConnection
  readonly #subscriber: Subscriber
  readonly #scripts: Scripts
  readonly #leases: LeaseKeeper
  readonly #ownsBase: { destroy?: () => void } | undefined

  constructor(options: RedisEventStoreOptions) {
    const o = checkStoreOptions(options)
    const { base, owned } = redisBase(o)
    this.#ownsBase = owned
    this.#prefix = o.prefix
    this.#maxLen = o.maxLen
    this.#maxAgeMs = o.maxAgeMs
    this.#endedTtlMs = o.endedTtlMs
    this.#onError = o.onError
    const timing: ConnectionTiming = {
      commandTimeoutMs: o.commandTimeoutMs,
      healthCheckMs: o.healthCheckMs,
    }
    this.#commands = new ManagedConnection(
      base as RedisClientLike,
      timing,
      this.#onError,
      noop,
      (c) => c.send(['PING'], 'a health check'),
    )
    this.#scripts = new Scripts(this.#commands)
    this.#subscriber = new Subscriber(
      base as RedisClientLike,
      timing,
      this.#onError,
      this.#commands,
      o.prefix,
    )
    this.#leases = new LeaseKeeper({
      prefix: o.prefix,
      scripts: this.#scripts,
      commands: this.#commands,
      subscriber: this.#subscriber,
      keys: (name) => this.#keys(name),
      endArgs: (name) => this.#appendArgs(name, 'end'),
      onError: this.#onError,
    })
  }

  async append(name: string, input: StoreInput): Promise<StoredEvent> {
    const [stream, meta] = this.#keys(name)
    const payload = encodePayload(input, false)
    let reply: [string, string, string]
    try {
      reply = await this.#scripts.run(
        APPEND,
        [stream, meta],
        [...this.#appendArgs(name, 'event'), payload],
        `publish to "${short(name)}"`,
      )
    } catch (error) {
      if (replyIs(error, 'ENDED')) throw endedError(name)
      throw error
    }
    if (!Array.isArray(reply) || reply.length !== 3) throw garbled(name, reply)
    const entry = toEntry(reply[0], `${reply[1]}-${reply[2]}`, payload)
    // This process hears its own publish at once; the pub/sub copy is skipped by seq.
    this.#subscriber.local(this.#channel(name), entry)
    return entry
  }

  async read(name: string, after: string | undefined, limit: number): Promise<ReadResult> {
    let args: string[]
    if (after === undefined) args = ['', '0-0', '0', String(limit)]
    else {
      // Validated before it reaches any Redis command.
      const id = parseId(after)
      if (id === undefined) return { gap: { reason: 'unknown', lastEventId: after.slice(0, 1024) } }
      args = [id.epoch, id.streamId, String(id.seq), String(limit)]
    }
    const [stream, meta] = this.#keys(name)
    const reply = await this.#scripts.run<[string, string, [string, string[]][]]>(
      READ,
      [stream, meta],
      args,
      `read "${short(name)}"`,
    )
    if (reply[0] === 'gap') {
      return { gap: { reason: reply[1] as 'unknown' | 'expired', lastEventId: after! } }
    }
    const epoch = reply[1]
    return { events: reply[2].map(([id, fields]) => toEntry(epoch, id, fields[1]!)) }
  }

  async info(name: string): Promise<LogInfo> {
    const [, meta] = this.#keys(name)
    const [epoch, ms, seq, ended] = await this.#scripts.run<string[]>(
      INFO,
      [meta],
      [],
      `look up "${short(name)}"`,
    )
    if (epoch === '') return { exists: false, ended: false, last: undefined }
    const n = Number(seq)
    return {
      exists: true,
      ended: ended === '1',
      last: n === 0 ? undefined : { id: wireId(epoch!, `${ms}-${seq}`), seq: n, epoch: epoch! },
    }
  }

  follow(name: string, listener: LogListener): () => void {
    // A process that follows a log also watches for producers that died.
    this.#leases.watch()
    return this.#subscriber.follow(this.#channel(checkLogName(name)), listener, decode)
  }

  async end(name: string, final?: StoreInput): Promise<void> {
    const [stream, meta] = this.#keys(name)
    const payloads = final === undefined ? [] : [encodePayload(final, false)]
    payloads.push(encodePayload({ data: '' }, true))
    let reply: [string, string, string]
    try {
      reply = await this.#scripts.run<[string, string, string]>(
        APPEND,
        [stream, meta],
        [...this.#appendArgs(name, 'end'), ...payloads],
        `end "${short(name)}"`,
      )
    } catch (error) {
      if (replyIs(error, 'ENDED')) throw endedError(name)
      throw error
    }
    await this.#leases.forget(name)
    if (reply[0] === '') return // had ended already
    this.#subscriber.local(
      this.#channel(name),
      toEntry(reply[0], `${reply[1]}-${reply[2]}`, payloads.at(-1)!),
    )
  }

  lease(name: string, ttlMs: number): Promise<StoreLease> {
    return this.#leases.take(name, ttlMs)
  }

  async cancel(name: string): Promise<void> {
    await this.#leases.cancel(name)
  }

  /** Closes the store's connections (not the client you gave). Streams stay open. */
  close(): void {
    this.#leases.close()
    this.#subscriber.close()
    this.#commands.close()
    this.#ownsBase?.destroy?.()
  }

  #keys(name: string): [stream: string, meta: string] {
    const key = `${this.#prefix}{${checkLogName(name)}}`
    return [key, `${key}:meta`]
  }

  #channel(name: string): string {
    return `${this.#prefix}{${name}}`
  }

  #appendArgs(name: string, mode: 'event' | 'end'): string[] {
    return [
      this.#channel(name),
      newEpoch(),
      String(this.#maxLen),
      String(this.#maxAgeMs),
      String(this.#endedTtlMs),
      mode,
    ]
  }
}

const noop = (): void => {}

function encodePayload(input: StoreInput, end: boolean): string {
  const payload: Payload = [
    input.data,
    input.event ?? null,
    input.retry ?? null,
    input.serialized === true ? 1 : 0,
    end ? 1 : 0,
  ]
  return JSON.stringify(payload)
}

function toEntry(epoch: string, streamId: string, json: string): StoredEvent {
  const [data, event, retry, serialized, end] = JSON.parse(json) as Payload
  const seq = Number(streamId.slice(streamId.indexOf('-') + 1))
  const entry: { -readonly [K in keyof StoredEvent]: StoredEvent[K] } = {
    id: wireId(epoch, streamId),
    seq,
    epoch,
    data,
  }
  if (event !== null) entry.event = event
  if (retry !== null) entry.retry = retry
  if (serialized === 1) entry.serialized = true
  if (end === 1) entry.end = true
  return entry
}

/** A pub/sub message `epoch|ms-seq|payload` back into an entry; undefined if malformed. */
function decode(message: string): StoredEvent | undefined {
  const a = message.indexOf('|')
  const b = message.indexOf('|', a + 1)
  if (a < 1 || b < 0) return undefined
  try {
    return toEntry(message.slice(0, a), message.slice(a + 1, b), message.slice(b + 1))
  } catch {
    return undefined
  }
}

function short(name: string): string {
  return name.length > 60 ? `${name.slice(0, 60)}…` : name
}

function replyIs(error: unknown, what: string): boolean {
  return (
    typeof (error as Error | null)?.message === 'string' && (error as Error).message.includes(what)
  )
}

function garbled(name: string, reply: unknown): SseError {
  return new SseError(
    'ERR_SSE_STORE_UNAVAILABLE',
    `@ssekit/redis: publish to "${short(name)}" got an answer that is not the script's (${JSON.stringify(reply)?.slice(0, 40)}); the connection is replaced.`,
  )
}

function endedError(name: string): SseError {
  return new SseError(
    'ERR_SSE_LOG_ENDED',
    `@ssekit/redis: log "${short(name)}" has ended; nothing more can be published to it. Use a new name for new work.`,
  )
}
