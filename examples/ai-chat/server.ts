/**
 * The AI chat's server, on Hono (`@hono/node-server`) with `@ssekit/hono`: the AI-answer
 * pattern of `@ssekit/core`. `POST /answers` starts the answer as the named log
 * `answer:<id>` with `produce()` and answers with its stream and a `Content-Location`;
 * `GET /answers/:id` replays and follows it; `DELETE /answers/:id` cancels it. The page is
 * served here too, its script bundled by esbuild when the server starts.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { createChannel, type EventStream, MemoryEventStore } from '@ssekit/core'
import { listening, type Running } from '@ssekit/example-shared/run'
import { sse } from '@ssekit/hono'
import { type Context, Hono } from 'hono'
import { z } from 'zod'
import { ANSWER_ID, type Answer, cannedAnswer, fakeModel, type Transcript } from './answer.js'
import { bundlePage } from './bundle.js'

export interface ChatOptions {
  /**
   * Milliseconds between two tokens of the fake model.
   * @default 40
   */
  tokenMs?: number
  /**
   * How long an answer is kept once it has ended (its log, for replay, and its stats).
   * @default 600000 (10 minutes)
   */
  endedTtlMs?: number
  /** Prints one line per answer request and per finished answer. @default true */
  log?: boolean
}

/** What the server knows of one answer, as `GET /stats` shows it. */
export interface AnswerStats {
  prompt: string
  /** Tokens of the whole canned answer. */
  total: number
  /** Times the model was started for this answer (1: a reload or a second tab never re-ran it). */
  modelRuns: number
  /** Tokens the model yielded, and tokens published to the log. */
  generated: number
  published: number
  /** True while the producer runs; false once the log has ended (nothing can follow). */
  producing: boolean
  outcome: 'done' | 'cancelled' | 'failed' | undefined
  /** Streams of this answer open right now (the POST's and the GETs'). */
  openStreams: number
}

/** One request to `/answers…`, as the server saw it. */
export interface RequestRecord {
  method: string
  path: string
  answer: string | undefined
  /** The Last-Event-ID header, or null. */
  lastEventId: string | null
  /** Tokens of the answer published when the request arrived. */
  published: number
}

/** `GET /stats`. */
export interface Stats {
  requests: RequestRecord[]
  answers: Record<string, AnswerStats>
}

const AskBody = z.object({
  id: z.string().regex(ANSWER_ID).optional(),
  prompt: z.string().trim().min(1).max(2000),
})

const index = readFileSync(new URL('./public/index.html', import.meta.url), 'utf8')

/** Builds the app; `close()` cancels running answers and ends every stream. */
export function createApp(script: string, options: ChatOptions = {}) {
  const { tokenMs = 40, endedTtlMs = 10 * 60_000, log = true } = options
  const say = log ? (line: string) => console.log(line) : () => {}
  const store = new MemoryEventStore({ endedTtlMs })
  const answers = new Map<string, AnswerStats>()
  const requests: RequestRecord[] = []
  const streams = sse()
  const app = new Hono()
  app.use(streams)

  // One channel object per request: `answer:<id>` on the same store is one channel.
  const channel = (id: string) =>
    createChannel<Answer>({
      name: `answer:${id}`,
      store,
      // Checked at publish: a payload the page could not read is never written.
      schema: { token: z.string(), done: z.object({ usage: z.number().int().nonnegative() }) },
    })

  function record(c: Context, id: string | undefined): void {
    const lastEventId = c.req.header('last-event-id') ?? null
    requests.push({
      method: c.req.method,
      path: c.req.path,
      answer: id,
      lastEventId,
      published: id === undefined ? 0 : (answers.get(id)?.published ?? 0),
    })
    if (requests.length > 1000) requests.shift()
    const which = id === undefined || c.req.path.includes(id) ? '' : ` (answer ${id})`
    const from = lastEventId === null ? '' : `  Last-Event-ID: ${lastEventId}`
    say(`${c.req.method} ${c.req.path}${which}${from}`)
  }

  /** The model runs here, once per answer, whoever reads it and however often. */
  async function startAnswer(id: string, prompt: string, stats: AnswerStats): Promise<void> {
    const answer = channel(id)
    stats.producing = true
    // Resolves once this process holds the log's lease; the model runs in the background
    // and goes on when readers leave (a reload, a closed tab).
    const { done } = await answer.produce(async (signal) => {
      stats.modelRuns++
      for await (const token of fakeModel(prompt, signal, tokenMs)) {
        stats.generated++
        await answer.publish({ event: 'token', data: token })
        stats.published++
      }
      if (signal.aborted) {
        // Returning nothing after a cancel: produce() ends the log with the `error` event
        // { reason: 'cancelled' }.
        stats.outcome = 'cancelled'
        return undefined
      }
      stats.outcome = 'done'
      return { event: 'done', data: { usage: stats.published } }
    })
    void done.then(() => {
      // The log has ended: nothing can be published to it any more.
      stats.producing = false
      stats.outcome ??= 'failed'
      say(`answer ${id}: ${stats.outcome} after ${stats.published} of ${stats.total} tokens`)
      setTimeout(() => answers.delete(id), endedTtlMs).unref()
    })
  }

  /** Streams the answer from its start (or after the Last-Event-ID), then live, then its end. */
  async function follow(stream: EventStream<Answer>, id: string): Promise<void> {
    const stats = answers.get(id)
    if (stats !== undefined) {
      stats.openStreams++
      stream.onClose(() => stats.openStreams--)
    }
    await channel(id).subscribe(stream, { from: 'start' })
  }

  app.get('/', (c) => c.html(index))
  app.get('/app.js', (c) =>
    c.body(script, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'no-store',
    }),
  )

  app.post('/answers', async (c) => {
    const ask = AskBody.safeParse(await c.req.json().catch(() => undefined))
    if (!ask.success) {
      record(c, undefined)
      return c.json(
        {
          error:
            'Send { "prompt": "…" } (1 to 2000 characters), and optionally "id": 8 to 64 of A-Z a-z 0-9 _ - (the same id again streams the same answer).',
        },
        400,
      )
    }
    const id = ask.data.id ?? randomUUID()
    const prompt = ask.data.prompt
    record(c, id)
    let stats = answers.get(id)
    if (stats === undefined) {
      // Set before any await: a second POST with this id finds it and starts nothing.
      stats = {
        prompt,
        total: cannedAnswer(prompt).tokens.length,
        modelRuns: 0,
        generated: 0,
        published: 0,
        producing: false,
        outcome: undefined,
        openStreams: 0,
      }
      answers.set(id, stats)
      say(`answer ${id}: started for ${JSON.stringify(prompt.slice(0, 60))}`)
      await startAnswer(id, prompt, stats)
    } else if (stats.prompt !== prompt) {
      return c.json({ error: `Answer ${id} exists, for another prompt.` }, 409)
    }
    // The same id again (a retry, another tab): the answer that exists, not a second run.
    return c.sse<Answer>((stream) => follow(stream, id), {
      headers: { 'content-location': `/answers/${id}` },
    })
  })

  app.get('/answers/:id', async (c) => {
    const id = c.req.param('id')
    record(c, id)
    // Before a stream opens: an answer that does not exist is a 404, and the client stops.
    if (!ANSWER_ID.test(id) || !(await channel(id).exists())) return c.body(null, 404)
    // An ended answer whose last event the client has is answered 204 by subscribe().
    return c.sse<Answer>((stream) => follow(stream, id))
  })

  // The answer's log so far as JSON, read from the store: what a tab that joins the shared
  // connection of another tab missed before it joined.
  app.get('/answers/:id/log', async (c) => {
    const id = c.req.param('id')
    const stats = answers.get(id)
    const name = `answer:${id}`
    if (!ANSWER_ID.test(id) || stats === undefined) return c.json({ error: 'No such answer.' }, 404)
    const { ended } = await store.info(name)
    const events: Transcript['events'] = []
    let after = c.req.query('after') || undefined
    for (;;) {
      const read = await store.read(name, after, 500)
      if (read.gap !== undefined) {
        return c.json({ error: `Cannot read after ${after} (${read.gap.reason}).` }, 409)
      }
      for (const entry of read.events) {
        if (entry.end) continue
        events.push({
          id: entry.id,
          event: entry.event as keyof Answer,
          data: entry.serialized ? JSON.parse(entry.data) : entry.data,
        })
      }
      if (read.events.length < 500) break
      after = read.events.at(-1)!.id
    }
    return c.json({
      id,
      prompt: stats.prompt,
      url: `/answers/${id}`,
      events,
      ended,
    } satisfies Transcript)
  })

  app.delete('/answers/:id', async (c) => {
    const id = c.req.param('id')
    record(c, id)
    if (!ANSWER_ID.test(id)) return c.body(null, 404)
    const info = await store.info(`answer:${id}`)
    if (!info.exists) return c.body(null, 404)
    if (info.ended) return c.json({ error: 'The answer has already ended.' }, 409)
    // Aborts the producer's signal (from any instance, with a Redis store); the log ends
    // with the `error` event { reason: 'cancelled' }.
    await channel(id).cancel()
    return c.body(null, 202)
  })

  app.get('/stats', (c) =>
    c.json({ requests, answers: Object.fromEntries(answers) } satisfies Stats),
  )

  return {
    app,
    close() {
      for (const [id, stats] of answers) {
        if (stats.producing) void channel(id).cancel()
      }
      streams.close()
    },
  }
}

export interface StartOptions extends ChatOptions {
  /** 0 picks a free port. @default 3000 */
  port?: number
  /** @default every interface */
  host?: string
}

/** Bundles the page's script, starts the server; resolves once it listens. */
export async function start(options: StartOptions = {}): Promise<Running> {
  const { port = 3000, host, ...rest } = options
  const { app, close } = createApp(await bundlePage(), rest)
  const server = serve(
    host === undefined ? { fetch: app.fetch, port } : { fetch: app.fetch, port, hostname: host },
  ) as Server
  return listening(server, close)
}
