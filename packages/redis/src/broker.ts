import type { Broker, BrokerMessage, BrokerUnsubscribe } from '@ssekit/core'
import { ManagedConnection, type RedisClientLike } from './connection.js'
import { checkStoreOptions, type RedisEventStoreOptions, redisBase } from './options.js'
import { Subscriber } from './subscriber.js'

/** Options of {@link RedisBroker}: the connection, `prefix`, timeouts and `onError`. */
export type RedisBrokerOptions = Pick<
  RedisEventStoreOptions,
  'redis' | 'url' | 'prefix' | 'commandTimeoutMs' | 'healthCheckMs' | 'onError'
>

/**
 * Pub/sub between instances for channels without a store: fire and forget, no ids, no
 * replay. One PUBLISH per publish; one subscriber connection per process, however many
 * topics. For anything a reconnecting client must not miss, use `RedisEventStore`.
 *
 * @example
 * const broker = new RedisBroker({ url: 'redis://localhost:6379' })
 * const presence = createChannel({ name: 'presence', broker })
 */
export class RedisBroker implements Broker {
  readonly #prefix: string
  readonly #commands: ManagedConnection
  readonly #subscriber: Subscriber

  constructor(options: RedisBrokerOptions) {
    const o = checkStoreOptions(options)
    const { base } = redisBase(o)
    const timing = { commandTimeoutMs: o.commandTimeoutMs, healthCheckMs: o.healthCheckMs }
    this.#prefix = o.prefix
    this.#commands = new ManagedConnection(
      base as RedisClientLike,
      timing,
      o.onError,
      () => {},
      (c) => c.send(['PING'], 'a health check'),
    )
    this.#subscriber = new Subscriber(
      base as RedisClientLike,
      timing,
      o.onError,
      this.#commands,
      o.prefix,
    )
  }

  async publish(topic: string, message: BrokerMessage): Promise<void> {
    await this.#commands.send(
      ['PUBLISH', `${this.#prefix}b:${topic}`, JSON.stringify(message)],
      `publish to "${topic.slice(0, 60)}"`,
    )
  }

  subscribe(topic: string, onMessage: (message: BrokerMessage) => void): BrokerUnsubscribe {
    return this.#subscriber.listen(`${this.#prefix}b:${topic}`, (raw) => {
      let message: BrokerMessage
      try {
        message = JSON.parse(raw) as BrokerMessage
      } catch {
        return
      }
      if (typeof message?.data === 'string') onMessage(message)
    })
  }

  /** Closes the broker's connections (not the client you gave). */
  close(): void {
    this.#subscriber.close()
    this.#commands.close()
  }
}
