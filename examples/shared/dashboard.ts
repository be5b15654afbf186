/**
 * What the page shows, apart from any framework: a clock channel, a notifications channel
 * and a stand-in for a language model that answers one token at a time. Only
 * `@ssekit/core` is used here, once for the three examples: each example's `server.ts` is
 * only the framework glue.
 */
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Channel,
  createChannel,
  type EventStream,
  type Gap,
  MemoryEventStore,
  type RetryOption,
  type SseEvent,
} from '@ssekit/core'

/** One clock tick: its number (1, 2, 3…) and the server time in epoch milliseconds. */
export interface Tick {
  n: number
  at: number
}

/** One notification, as posted from the page. */
export interface Notice {
  text: string
  at: number
}

export interface DashboardOptions {
  /**
   * Milliseconds between clock ticks.
   * @default 1000
   */
  tickMs?: number
  /**
   * Milliseconds between two tokens of a generated answer.
   * @default 60
   */
  tokenMs?: number
  /**
   * Reconnection delay hinted to the clients that `POST /drop` disconnects.
   * @default { ms: 1000, jitter: 1000 }
   */
  dropRetry?: RetryOption
}

/** Longest notification accepted, in characters. */
export const MAX_NOTICE = 280

export interface Dashboard {
  /** Broadcasts a `tick` every `tickMs`; keeps the last 600 for replay. */
  readonly clock: Channel<{ tick: Tick }>
  /** Broadcasts what `POST /notifications` receives; keeps the last 100 for replay. */
  readonly notifications: Channel<{ notification: Notice }>
  readonly dropRetry: RetryOption
  /** Adds a stream to a channel; a client that comes back is first told `resumed`. */
  join<M extends object>(stream: EventStream, channel: Channel<M>): Promise<void>
  /** One `token` event per word of `words`, `tokenMs` apart. */
  typing(words: readonly string[]): AsyncGenerator<SseEvent<string>>
  /** Stops the clock and ends both channels and their streams. */
  close(): void
}

export function createDashboard(options: DashboardOptions = {}): Dashboard {
  const { tickMs = 1000, tokenMs = 60, dropRetry = { ms: 1000, jitter: 1000 } } = options
  // A Last-Event-ID that the store cannot resume from (the server restarted, or the client
  // was away for longer than the store keeps) is reported, never silently skipped.
  const onGap = (gap: Gap, stream: EventStream) => {
    void stream.send({ event: 'gap', data: { reason: gap.reason } })
  }
  const clock = createChannel<{ tick: Tick }>({
    event: 'tick',
    store: new MemoryEventStore({ maxEvents: 600 }),
    onGap,
  })
  const notifications = createChannel<{ notification: Notice }>({
    event: 'notification',
    store: new MemoryEventStore({ maxEvents: 100 }),
    onGap,
  })
  let n = 0
  const timer = setInterval(() => {
    void clock.publish({ event: 'tick', data: { n: ++n, at: Date.now() } })
  }, tickMs)

  return {
    clock,
    notifications,
    dropRetry,
    async join(stream, channel) {
      // Sent before the replay and without an id (so the client's Last-Event-ID stays):
      // the page marks the events published before this time as replayed.
      if (stream.lastEventId !== undefined) {
        void stream.send({ event: 'resumed', data: { at: Date.now() } })
      }
      await channel.subscribe(stream)
    },
    async *typing(words) {
      for (const word of words) {
        await sleep(tokenMs)
        yield { event: 'token', data: word }
      }
    },
    close() {
      clearInterval(timer)
      clock.close()
      notifications.close()
    },
  }
}

/** The text of a notification body `{ text }`, or `undefined` when it is not acceptable. */
export function noticeText(body: unknown): string | undefined {
  const text = (body as { text?: unknown } | null | undefined)?.text
  if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_NOTICE) return undefined
  return text
}

/** The fake model's answer to `prompt` (a query parameter: untrusted), as tokens. */
export function answer(prompt: unknown): string[] {
  const asked =
    typeof prompt === 'string' && prompt.trim() !== '' ? prompt.slice(0, 200) : 'nothing'
  const text =
    `You asked: "${asked}". Here is the answer, one token at a time. Each token is one ` +
    'Server-Sent Event, written as soon as it is ready. The stream ends with a done event, ' +
    'and then the page closes its EventSource so that it does not ask again.'
  // Each token keeps the space after it, so that joining them gives back the text.
  return text.match(/\S+\s*/g) ?? []
}

const template = readFileSync(new URL('./public/index.html', import.meta.url), 'utf8')

/** The page, titled for `framework`; plain `EventSource`, no library. */
export function page(framework: string): string {
  return template.replaceAll('{{framework}}', framework)
}
