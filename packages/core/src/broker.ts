/** A published event as it travels between processes: data already serialized. */
export interface BrokerMessage {
  readonly id?: string
  readonly data: string
  readonly event?: string
  readonly retry?: number
  /** True when `data` came from the serializer (not a string payload). */
  readonly serialized: boolean
}

/** Stops a broker subscription. */
export type BrokerUnsubscribe = () => void | Promise<void>

/**
 * Carries channel publishes between processes, so that a client connected to any instance
 * sees every event. A channel with a broker delivers its own publishes through it too,
 * so that every instance sees the same order.
 */
export interface Broker {
  publish(topic: string, message: BrokerMessage): void | Promise<void>
  subscribe(
    topic: string,
    onMessage: (message: BrokerMessage) => void,
  ): BrokerUnsubscribe | Promise<BrokerUnsubscribe>
}

/**
 * A broker within one process: channels made with the same `MemoryBroker` and name share
 * their events. Useful in tests, and as the model for a network broker.
 */
export class MemoryBroker implements Broker {
  readonly #topics = new Map<string, Set<(message: BrokerMessage) => void>>()

  publish(topic: string, message: BrokerMessage): void {
    const listeners = this.#topics.get(topic)
    if (listeners !== undefined) for (const fn of listeners) fn(message)
  }

  subscribe(topic: string, onMessage: (message: BrokerMessage) => void): BrokerUnsubscribe {
    let listeners = this.#topics.get(topic)
    if (listeners === undefined) {
      listeners = new Set()
      this.#topics.set(topic, listeners)
    }
    // Wrapped, so that the same function subscribed twice is two subscriptions.
    const listener = (message: BrokerMessage) => onMessage(message)
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0) this.#topics.delete(topic)
    }
  }
}
