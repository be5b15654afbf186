import type { SseEvent } from './encode.js'
import type { StoredEvent } from './store.js'

/**
 * What a channel's filters see of an entry: the payload, deserialized once per entry when it
 * went through the serializer, a string as it was published. The last view is kept, so that
 * a thousand filtered subscribers cost one deserialization.
 */
export class Viewer {
  readonly #deserializer: (text: string) => unknown
  #last: [StoredEvent, SseEvent] | undefined

  constructor(deserializer: (text: string) => unknown) {
    this.#deserializer = deserializer
  }

  /** Remembers that `entry` is seen as `original` (a local publish without a store). */
  seeAs(entry: StoredEvent, original: SseEvent): void {
    this.#last = [entry, original]
  }

  view(entry: StoredEvent): SseEvent {
    if (this.#last?.[0] === entry) return this.#last[1]
    let data: unknown = entry.data
    if (entry.serialized === true) {
      try {
        data = this.#deserializer(entry.data)
      } catch {
        // Keep the text: a filter still gets something to look at.
      }
    }
    const view: SseEvent = { data }
    if (entry.event !== undefined) view.event = entry.event
    if (entry.id !== undefined) view.id = entry.id
    if (entry.retry !== undefined) view.retry = entry.retry
    this.#last = [entry, view]
    return view
  }
}
