/**
 * The chat page's script (bundled by esbuild into `/app.js`). Each answer is read with
 * `@ssekit/client`, typed by the server's event map:
 *
 * - asking POSTs `{ id, prompt }` to `/answers`; the answer streams back, and the POST's
 *   `Content-Location` (`source.url` once it opened) is kept in `sessionStorage`;
 * - after a reload, the page GETs that URL: the server replays the answer from its start and
 *   goes on live, so the text is shown whole, nothing lost or doubled, the model not re-run;
 * - `share: true`: the tabs making the same request share one connection (Web Locks +
 *   BroadcastChannel). A tab opened on an answer (`/?answer=<id>`) makes the very request of
 *   the tab that asked, so it joins that tab's connection, and takes it over, from the last
 *   id it saw, when that tab closes;
 * - Stop DELETEs the answer: the server cancels the model and the answer ends with an
 *   `error` event `{ reason: 'cancelled' }`.
 */
import { connect, type SseSource } from '@ssekit/client'
import type { Answer, Ask, Transcript } from './answer.js'

/** How the client reads each event of the map: a token is text, the others JSON. */
const events = { token: 'text', done: 'json', error: 'json' } as const

type Status = 'waiting' | 'streaming' | 'done' | 'stopped' | 'failed'
type Message = { id: string; event: keyof Answer; data: Answer[keyof Answer] }

/** One question and its answer, as `sessionStorage` keeps it across reloads. */
interface Turn {
  id: string
  prompt: string
  /** Where the answer is read from: the POST's `Content-Location`, once it answered. */
  url?: string
  status: Status
  /** A finished answer's text and how it ended, shown again as they are after a reload. */
  text?: string
  note?: string
}

const KEY = 'ssekit-ai-chat'
const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!

const saved: Turn[] = (() => {
  try {
    return (JSON.parse(sessionStorage.getItem(KEY) ?? '{}') as { turns?: Turn[] }).turns ?? []
  } catch {
    return []
  }
})()
const save = () => sessionStorage.setItem(KEY, JSON.stringify({ turns: saved }))

/** An answer id of this page's own: the POST is idempotent by it (see `Ask`). */
function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** The request that asks for answer `id`: built the same way in every tab, byte for byte. */
function asking(id: string, prompt: string) {
  return { method: 'POST', json: { id, prompt } satisfies Ask } as const
}

/**
 * The place of an event in its answer's log. ssekit's ids are `<epoch>-<seq>`, `seq` gap-free
 * from 1 (core README, "Replay and gaps"): it orders the events that reach a tab two ways
 * (its log read and the shared connection) and tells a duplicate from a hole.
 */
function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1))
}

/** What the page shows of one answer; its `snapshot()` is what `window.chat` tells a test. */
class AnswerView {
  readonly turn: Turn
  readonly tokens: { id: string; data: string }[] = []
  text = ''
  usage: number | undefined
  error: string | undefined
  /** Events taken from the connection, read from the log, and dropped as already shown. */
  live = 0
  filled = 0
  dropped = 0
  /** Why the source stopped, once it has: 'done' (the 204 at the end), 'failed', 'closed'. */
  closed: string | undefined
  #next = 1
  #lastId = ''
  readonly #pending = new Map<number, { message: Message; via: 'live' | 'log' }>()
  #filling: Promise<void> | undefined
  readonly #el: HTMLLIElement
  readonly #textEl: HTMLDivElement
  readonly #statusEl: HTMLSpanElement

  constructor(turn: Turn) {
    this.turn = turn
    this.#el = document.createElement('li')
    this.#el.className = 'turn'
    this.#el.dataset.answer = turn.id
    const user = document.createElement('div')
    user.className = 'user'
    user.textContent = turn.prompt
    const bot = document.createElement('div')
    bot.className = 'bot'
    this.#textEl = document.createElement('div')
    this.#textEl.className = 'text'
    const meta = document.createElement('div')
    meta.className = 'meta'
    this.#statusEl = document.createElement('span')
    this.#statusEl.className = 'status'
    const link = document.createElement('a')
    link.href = `/?answer=${encodeURIComponent(turn.id)}`
    link.target = '_blank'
    link.rel = 'noopener'
    link.textContent = 'open in a new tab'
    meta.append(this.#statusEl, ' · ', link)
    bot.append(this.#textEl, meta)
    this.#el.append(user, bot)
    $('#messages').append(this.#el)
    if (turn.text !== undefined) {
      this.text = turn.text
      this.#textEl.textContent = turn.text
    }
    this.#render()
  }

  get final(): boolean {
    const s = this.turn.status
    return s === 'done' || s === 'stopped' || s === 'failed'
  }

  /**
   * Takes one event, from the connection or from the log, in any order and any overlap:
   * shows each event of the log once, in the log's order; a hole is read from the log.
   */
  accept(message: Message, via: 'live' | 'log'): void {
    const seq = seqOf(message.id)
    if (seq < this.#next || this.#pending.has(seq)) {
      this.dropped++
      return
    }
    this.#pending.set(seq, { message, via })
    for (let item = this.#pending.get(this.#next); item; item = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next++)
      this.#lastId = item.message.id
      if (item.via === 'live') this.live++
      else this.filled++
      this.#apply(item.message)
    }
    if (this.#pending.size > 0) void this.fill()
  }

  /**
   * Reads from the log what this tab has not seen yet: a hole (events that reached the tab
   * that holds the connection before this one joined it), or the rest once the stream ended.
   * One read at a time; a call during a read gets that read.
   */
  fill(): Promise<void> {
    this.#filling ??= this.#readLog().finally(() => {
      this.#filling = undefined
    })
    return this.#filling
  }

  async #readLog(): Promise<void> {
    for (let round = 0; round < 3 && !this.final; round++) {
      const after = this.#lastId === '' ? '' : `?after=${encodeURIComponent(this.#lastId)}`
      const response = await fetch(`/answers/${encodeURIComponent(this.turn.id)}/log${after}`)
      if (!response.ok) return
      const log = (await response.json()) as Transcript
      for (const message of log.events) this.accept(message, 'log')
      // A hole is filled; an ended log is read to its end.
      if (this.#pending.size === 0 && !log.ended) return
    }
  }

  fail(why: string): void {
    if (this.final) return
    this.error = why
    this.#finish('failed', `failed: ${why}`)
  }

  #apply(message: Message): void {
    if (this.final) return
    if (message.event === 'token') {
      const token = message.data as string
      this.tokens.push({ id: message.id, data: token })
      this.text += token
      this.#textEl.append(token)
      if (this.turn.status === 'waiting') this.turn.status = 'streaming'
      this.#render()
    } else if (message.event === 'done') {
      this.usage = (message.data as Answer['done']).usage
      this.#finish('done', `done · ${this.usage} tokens`)
    } else {
      const { reason } = message.data as Answer['error']
      this.error = reason
      this.#finish(
        reason === 'cancelled' ? 'stopped' : 'failed',
        `error event: ${JSON.stringify({ reason })} after ${this.tokens.length} tokens`,
      )
    }
  }

  #finish(status: Status, note: string): void {
    this.turn.status = status
    this.turn.text = this.text
    this.turn.note = note
    save()
    this.#render()
    controls()
  }

  #render(): void {
    const t = this.turn
    this.#el.dataset.status = t.status
    this.#statusEl.textContent =
      t.note ??
      (t.status === 'waiting' ? 'waiting for the first token…' : `${this.tokens.length} tokens…`)
  }

  /** The id of the last event shown (what a resume would send as Last-Event-ID). */
  get lastEventId(): string {
    return this.#lastId
  }

  snapshot() {
    const { id, prompt, status, url } = this.turn
    const { text, tokens, usage, error, live, filled, dropped, lastEventId, closed } = this
    return {
      ...{ id, prompt, status, url, text, tokens, usage, error },
      ...{ live, filled, dropped, lastEventId, closed },
    }
  }
}

const views: AnswerView[] = []
;(window as unknown as { chat: unknown }).chat = {
  get turns() {
    return views.map((v) => v.snapshot())
  },
}

const streaming = () => views.find((v) => !v.final)

function controls(): void {
  const busy = streaming() !== undefined
  $<HTMLButtonElement>('#send').disabled = busy
  $<HTMLButtonElement>('#stop').disabled = !busy
}

/** Reads `source` into `view` until the answer ends. */
async function read(view: AnswerView, source: SseSource<Answer>, from: string): Promise<void> {
  controls()
  try {
    for await (const message of source) {
      view.accept(message, 'live')
      // A POST's source moves to its Content-Location once it is answered (in the tab that
      // holds the connection, or told by it): that is where a reload resumes.
      if (view.turn.url === undefined && source.url !== from) {
        view.turn.url = source.url
        save()
      }
    }
  } catch (error) {
    view.fail((error as Error).message)
  }
  view.closed = (await source.closed).reason
  // Over (the 204 that answers a reconnect at the end; or, in a tab reading another tab's
  // connection, that tab's word for it): anything not seen yet is in the log.
  for (let i = 0; i < 2 && !view.final; i++) await view.fill()
  if (!view.final) view.fail('the answer ended without its last event')
}

/** Asks a question: the answer streams back from the POST. */
function ask(prompt: string): void {
  const turn: Turn = { id: newId(), prompt, status: 'waiting' }
  saved.push(turn)
  save()
  const view = new AnswerView(turn)
  views.push(view)
  const source = connect<Answer>('/answers', {
    ...asking(turn.id, prompt),
    events,
    share: true,
    onOpen: () => {
      // source.url is now the Content-Location: /answers/<id>.
      turn.url = source.url
      save()
    },
  })
  void read(view, source, source.url)
}

/** After a reload: the answer that was streaming is read again from its start, then live. */
function resume(turn: Turn): void {
  const view = new AnswerView(turn)
  views.push(view)
  if (view.final) return
  // A GET to the saved Content-Location, without Last-Event-ID: the whole answer, then live.
  // Reloaded before the POST was answered, there is no URL yet: the same POST again (the id
  // makes it idempotent: it streams the answer that exists, or starts it if it never did).
  const source =
    turn.url !== undefined
      ? connect<Answer>(turn.url, { events, share: true })
      : connect<Answer>('/answers', { ...asking(turn.id, turn.prompt), events, share: true })
  void read(view, source, source.url)
}

/**
 * A tab opened on an answer (`/?answer=<id>`): what the answer said so far comes from its
 * log; the rest from the connection of the tab that asked, shared by making its very request
 * (a tab that joins gets the events from then on). Should no tab hold that connection, this
 * one makes the request itself, from the last id the log gave.
 */
async function open(id: string): Promise<void> {
  const response = await fetch(`/answers/${encodeURIComponent(id)}/log`)
  if (!response.ok) {
    const view = new AnswerView({
      id,
      prompt: '(an answer this server does not know)',
      status: 'waiting',
    })
    views.push(view)
    view.fail(`GET /answers/${id}/log answered ${response.status}`)
    return
  }
  const log = (await response.json()) as Transcript
  let turn = saved.find((t) => t.id === id)
  if (turn === undefined) {
    turn = { id, prompt: log.prompt, status: 'streaming' }
    saved.push(turn)
  }
  // Shown again from the log, whatever this tab had of it.
  Object.assign(turn, { url: log.url, status: 'streaming', text: undefined, note: undefined })
  save()
  const view = new AnswerView(turn)
  views.push(view)
  for (const message of log.events) view.accept(message, 'log')
  if (view.final) return
  const source = connect<Answer>('/answers', {
    ...asking(id, log.prompt),
    events,
    share: true,
    lastEventId: log.events.at(-1)?.id ?? '',
  })
  await read(view, source, source.url)
}

$('#ask').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $<HTMLTextAreaElement>('#prompt')
  // Trimmed as the server keeps it: a tab opened on the answer rebuilds the same request.
  const prompt = input.value.trim()
  if (prompt === '' || streaming() !== undefined) return
  input.value = ''
  ask(prompt)
})
$('#prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault()
    $<HTMLFormElement>('#ask').requestSubmit()
  }
})
$('#stop').addEventListener('click', async () => {
  const view = streaming()
  if (view === undefined) return
  $<HTMLButtonElement>('#stop').disabled = true
  // The answer ends with its `error` event { reason: 'cancelled' }, in every tab reading it.
  await fetch(`/answers/${encodeURIComponent(view.turn.id)}`, { method: 'DELETE' })
})

const opened = new URLSearchParams(location.search).get('answer')
for (const turn of saved) if (turn.id !== opened) resume(turn)
if (opened !== null) {
  history.replaceState(null, '', '/')
  void open(opened).then(controls)
}
controls()
