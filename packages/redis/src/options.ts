import { createClient } from '@redis/client'
import { SseTypeError } from '@ssekit/core'
import type { RedisClientLike } from './connection.js'

/** Options of {@link RedisEventStore}. */
export interface RedisEventStoreOptions {
  /**
   * Your node-redis client (`createClient()` from `redis` or `@redis/client`, v4.6 to v6). It
   * need not be connected: ssekit only calls its `duplicate()`, and runs on two connections
   * of its own (commands, and pub/sub), which `close()` closes. Give this or `url`.
   */
  redis?: RedisClientLike
  /** A Redis URL, `redis://host:6379`; the store then owns every connection. */
  url?: string
  /**
   * Prefix of every key and pub/sub channel.
   * @default 'sse:'
   */
  prefix?: string
  /**
   * Most events kept per log, trimmed approximately (`XADD MAXLEN ~`).
   * @default 10000
   */
  maxLen?: number
  /**
   * Events older than this are trimmed (`XTRIM MINID ~`), and a log nobody writes to for this
   * long is forgotten.
   * @default 0 (no age limit)
   */
  maxAgeMs?: number
  /**
   * How long an ended log is kept (for late readers and 204s).
   * @default 300000 (5 minutes)
   */
  endedTtlMs?: number
  /**
   * A command Redis has not answered within this rejects (`publish` with an `SseError`);
   * it is never resent.
   * @default 5000
   */
  commandTimeoutMs?: number
  /**
   * How often each connection is checked end to end; one that does not answer within
   * `commandTimeoutMs` (a half-dead socket) is replaced.
   * @default 20000
   */
  healthCheckMs?: number
  /**
   * Receives errors nobody awaits (a dropped connection, a failed refill).
   * @default a process warning
   */
  onError?: (error: unknown) => void
}

export interface CheckedOptions {
  redis: RedisClientLike | undefined
  url: string | undefined
  prefix: string
  maxLen: number
  maxAgeMs: number
  endedTtlMs: number
  commandTimeoutMs: number
  healthCheckMs: number
  onError: (error: unknown) => void
}

function fail(name: string, accepts: string, value: unknown): SseTypeError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value)
  return new SseTypeError(
    'ERR_SSE_INVALID_OPTION',
    `@ssekit/redis: option "${name}" must be ${accepts}; received ${typeof value === 'object' && value !== null ? 'an object' : shown}.`,
  )
}

function int(o: Record<string, unknown>, name: string, fallback: number, min: number): number {
  const value = o[name] ?? fallback
  if (!(Number.isSafeInteger(value) && (value as number) >= min)) {
    throw fail(name, `an integer of at least ${min}`, value)
  }
  return value as number
}

/** Validates the options of a store or broker, at creation. */
export function checkStoreOptions(options: RedisEventStoreOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) throw fail('options', 'an object', options)
  const o = options as Record<string, unknown>
  const known = new Set([
    'redis',
    'url',
    'prefix',
    'maxLen',
    'maxAgeMs',
    'endedTtlMs',
    'commandTimeoutMs',
    'healthCheckMs',
    'onError',
  ])
  for (const key of Object.keys(o)) {
    if (!known.has(key)) {
      throw new SseTypeError(
        'ERR_SSE_INVALID_OPTION',
        `@ssekit/redis: unknown option "${key}"; the options are ${[...known].join(', ')}.`,
      )
    }
  }
  const { redis, url } = options
  if (redis !== undefined && url !== undefined) {
    throw new SseTypeError(
      'ERR_SSE_INVALID_OPTION',
      '@ssekit/redis: give either option "redis" (your client) or option "url", not both.',
    )
  }
  if (redis === undefined && url === undefined) {
    throw new SseTypeError(
      'ERR_SSE_INVALID_OPTION',
      '@ssekit/redis: give option "redis" (a node-redis client) or option "url" (redis://…).',
    )
  }
  if (redis !== undefined) checkClient(redis)
  if (url !== undefined && !(typeof url === 'string' && /^rediss?:\/\//.test(url))) {
    throw fail('url', 'a redis:// or rediss:// URL', url)
  }
  const prefix = o.prefix ?? 'sse:'
  if (typeof prefix !== 'string' || /[{}\s]/.test(prefix) || prefix.length > 64) {
    throw fail('prefix', 'a string of at most 64 characters without braces or spaces', prefix)
  }
  if (o.onError !== undefined && typeof o.onError !== 'function') {
    throw fail('onError', 'a function', o.onError)
  }
  return {
    redis,
    url,
    prefix,
    maxLen: int(o, 'maxLen', 10_000, 0),
    maxAgeMs: int(o, 'maxAgeMs', 0, 0),
    endedTtlMs: int(o, 'endedTtlMs', 300_000, 1),
    commandTimeoutMs: int(o, 'commandTimeoutMs', 5000, 1),
    healthCheckMs: int(o, 'healthCheckMs', 20_000, 100),
    onError: (o.onError as (error: unknown) => void) ?? warn,
  }
}

/** A node-redis client, checked for what ssekit relies on; ioredis is refused by name. */
function checkClient(redis: unknown): void {
  const c = redis as Record<string, unknown> | null
  if (typeof c === 'object' && c !== null && typeof c.status === 'string' && 'options' in c) {
    throw new SseTypeError(
      'ERR_SSE_INVALID_OPTION',
      '@ssekit/redis: option "redis" looks like an ioredis client, which is not supported (it resends in-flight commands after a reconnect, which could append an event twice); pass a node-redis client (`createClient()` from `redis`), or a "url".',
    )
  }
  if (
    typeof c?.duplicate !== 'function' ||
    typeof c.sendCommand !== 'function' ||
    typeof c.isOpen !== 'boolean'
  ) {
    throw fail(
      'redis',
      'a node-redis client (`createClient()` from `redis` or `@redis/client`, v4.6 to v6)',
      redis,
    )
  }
}

function warn(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : String(error))
}

/** The client connections are duplicated from: the user's, or one made from `url` (owned). */
export function redisBase(o: CheckedOptions): {
  base: RedisClientLike
  owned: { destroy?: () => void } | undefined
} {
  if (o.redis !== undefined) return { base: o.redis, owned: undefined }
  // Never connected itself: only a template for the store's own connections.
  const template = createClient({ url: o.url }) as unknown as RedisClientLike
  return { base: template, owned: undefined }
}
