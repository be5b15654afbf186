/**
 * @module @ssekit/redis
 * Many instances, one stream of events: `RedisEventStore` keeps each named channel's log in
 * a Redis Stream (exact resume from any instance, leases, end), and `RedisBroker` carries
 * fire-and-forget publishes for channels without a store.
 */
export { RedisBroker, type RedisBrokerOptions } from './broker.js'
export type { RedisClientLike, RedisConnectionLike } from './connection.js'
export type { RedisEventStoreOptions } from './options.js'
export { RedisEventStore } from './store.js'
