/**
 * What the server and the page agree on: the event map of an answer, the request that asks
 * for one, and a stand-in for a language model. The page imports only types from here
 * (erased by esbuild), so nothing of the server reaches the browser.
 */
import type { ProducerError } from '@ssekit/core'

/**
 * One answer's events, for the server's channel (`createChannel<Answer>`) and the page's
 * client (`connect<Answer>`) alike. `produce()` ends a cancelled or failed answer with the
 * `error` event of `ProducerError`.
 */
export type Answer = { token: string; done: { usage: number } } & ProducerError

/**
 * The body of `POST /answers`. `id` is optional: without it the server picks one. The page
 * always sends one of its own, which makes the POST idempotent (a second POST with the same
 * id streams the answer that exists and starts nothing) and gives each answer its own
 * request, so that tabs share a connection per answer, never across two answers.
 */
export interface Ask {
  id?: string
  prompt: string
}

/** An answer id as the server accepts it (in a body or a URL): 8 to 64 of `[A-Za-z0-9_-]`. */
export const ANSWER_ID = /^[A-Za-z0-9_-]{8,64}$/

/** `GET /answers/:id/log`: the answer's log so far, read from the store. */
export interface Transcript {
  id: string
  prompt: string
  /** Where the answer is streamed from (what the POST answered as `Content-Location`). */
  url: string
  /** The events after `?after=` (or from the start), in log order. */
  events: { id: string; event: keyof Answer; data: Answer[keyof Answer] }[]
  /** The log has ended: `events` holds everything that remained after `after`. */
  ended: boolean
}

const STORY =
  'Once upon a time, in a data centre by the sea, a small server kept a log of every word it ' +
  'had ever said. Each word got a number, one after the other, with no number skipped. One ' +
  'evening a reader closed her laptop in the middle of a long answer. When she opened it ' +
  'again, her browser told the server the last number it had seen, and the server, without ' +
  'fuss, went on from the very next word. Later she opened the same answer in a second tab; ' +
  'the two tabs agreed that one connection was enough, and the second one listened to the ' +
  'first. When she closed the first tab, the second took over the connection from the last ' +
  'word it had heard. Nothing was said twice, nothing was lost, and the model, which was ' +
  'rather slow and quite expensive, only ever had to tell the story once. The end.'

const SSE =
  'Server-Sent Events are a plain HTTP response that never quite ends: the server writes ' +
  'events as lines of text, each with an optional name and id, and the browser reads them as ' +
  'they come. When the connection drops, the client comes back with the last id it saw in a ' +
  'Last-Event-ID header, and a server that keeps a log can answer with exactly what was ' +
  'missed. That is all this chat needs to survive a reload: the answer is a named log, and ' +
  'every tab that reads it says where it stopped.'

/**
 * The whole answer the fake model gives to `prompt`, and its tokens (each word with the
 * spaces after it, so that the tokens put together are the text exactly). Deterministic: the
 * same prompt always gets the same answer.
 */
export function cannedAnswer(prompt: string): { text: string; tokens: string[] } {
  // SSE data cannot carry a CR, and a prompt echoed as typed could: one space per run.
  const asked = prompt.replace(/\s+/g, ' ').trim()
  const lower = asked.toLowerCase()
  const text = lower.includes('story')
    ? STORY
    : lower.includes('sse') || lower.includes('server-sent')
      ? SSE
      : `You asked: "${asked}". This answer comes from a fake model that streams one word ` +
        'every few dozen milliseconds, so that there is time to play with it. Reload the ' +
        'page while it types and it carries on where it was; open it in a second tab and ' +
        'both tabs read it through one connection; press Stop and the model stops. Ask for ' +
        'a story for a longer answer.'
  return { text, tokens: text.match(/\S+\s*/g) ?? [] }
}

/**
 * The fake model: yields the tokens of `cannedAnswer(prompt)`, one every `tokenMs`. Stops
 * (without throwing) as soon as `signal` aborts, even in the middle of a wait.
 */
export async function* fakeModel(
  prompt: string,
  signal: AbortSignal,
  tokenMs: number,
): AsyncGenerator<string> {
  for (const token of cannedAnswer(prompt).tokens) {
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve()
      const timer = setTimeout(done, tokenMs)
      function done() {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })
    if (signal.aborted) return
    yield token
  }
}
