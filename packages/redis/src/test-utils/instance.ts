/**
 * One server process of the multi-instance tests: an app on one framework, through its
 * ssekit adapter, whose channels are named logs in Redis. Several of these on one Redis (and
 * one prefix) are one set of channels. Run it as a child, from `packages/redis` (tsx then
 * reads this package's tsconfig.json, whose `paths` map every `@ssekit/*` to its sources):
 *
 *   ADAPTER=express|fastify|hono REDIS_URL=redis://127.0.0.1:6379 PREFIX=t1: \
 *     node --import tsx src/test-utils/instance.ts
 *
 * It listens on a free port of 127.0.0.1 and prints one line, `{"port":N,"pid":P}`. It exits
 * on SIGTERM, or when its stdin closes (the test that started it is gone).
 *
 *   GET  /ch/:name           one stream on channel :name, resumed after its Last-Event-ID
 *   GET  /many?names=a,b     one stream on several channels, live only; `: ready` once live
 *   POST /ch/:name           publishes the JSON body; answers { id }
 *   POST /ch/:name/end       ends the channel's log
 *   POST /burst              { names, count, from }: `count` publishes of { ch, from, i } to
 *                            each name, all in flight at once; answers { ids: [name, id][] }
 *   POST /pump/:name         { perSec }: publishes { k, t } at that rate (t: the wall clock
 *                            in ms, sub-ms precise) until POST /pump/:name/stop, which
 *                            answers { published, failed, acked: k[] }
 *   POST /job/:name/start    { ttlMs }: takes the lease on :name and publishes `tick` { n }
 *                            every 50 ms until lease.signal aborts, then ends the log with
 *                            `stopped` { ticks }
 *   POST /job/:name/cancel   asks the producer of :name to stop, wherever it runs
 */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createChannel, type EventStream } from '@ssekit/core'
import { sse as expressSse } from '@ssekit/express'
import fastifySse from '@ssekit/fastify'
import { sse as honoSse } from '@ssekit/hono'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { RedisEventStore } from '../index.js'

interface Call {
  params: Record<string, string>
  query: URLSearchParams
  body: unknown
}

type Route =
  | { path: string; stream: (stream: EventStream, call: Call) => Promise<unknown> }
  | { path: string; json: (call: Call) => Promise<unknown> }

const { ADAPTER = 'express', REDIS_URL, PREFIX = 'sse:' } = process.env
if (REDIS_URL === undefined) throw new Error('instance: set REDIS_URL')

const report = (error: unknown) => {
  process.stderr.write(`[${ADAPTER} ${process.pid}] ${(error as Error)?.stack ?? error}\n`)
}
const store = new RedisEventStore({ url: REDIS_URL, prefix: PREFIX, onError: report })
const channel = (name: string) => createChannel({ name, store, onError: report })
/** The wall clock in ms with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now()

const pumps = new Map<string, { stop(): Promise<unknown> }>()

function pump(name: string, perSec: number): { stop(): Promise<unknown> } {
  const ch = channel(name)
  const started = performance.now()
  const inFlight = new Set<Promise<unknown>>()
  const acked: number[] = []
  let k = 0
  let failed = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const tick = () => {
    const due = Math.floor(((performance.now() - started) * perSec) / 1000)
    while (k < due) {
      const n = ++k
      const p = ch.publish({ k: n, t: now() }).then(
        () => acked.push(n),
        () => failed++,
      )
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
    }
    timer = setTimeout(tick, 1)
  }
  tick()
  return {
    async stop() {
      clearTimeout(timer)
      await Promise.all(inFlight)
      return { published: k, failed, acked: acked.sort((a, b) => a - b) }
    },
  }
}

const routes: Route[] = [
  { path: '/ch/:name', stream: (stream, { params }) => channel(params.name!).subscribe(stream) },
  {
    path: '/many',
    stream: async (stream, { query }) => {
      const names = (query.get('names') ?? '').split(',')
      await Promise.all(names.map((name) => channel(name).subscribe(stream)))
      await stream.comment('ready')
    },
  },
  {
    path: '/ch/:name',
    json: async ({ params, body }) => ({ id: await channel(params.name!).publish(body) }),
  },
  {
    path: '/ch/:name/end',
    json: async ({ params }) => {
      await channel(params.name!).end()
      return {}
    },
  },
  {
    path: '/burst',
    json: async ({ body }) => {
      const { names, count, from } = body as { names: string[]; count: number; from: string }
      const sent: Promise<[string, string]>[] = []
      for (let i = 0; i < count; i++) {
        for (const ch of names) {
          sent.push(
            channel(ch)
              .publish({ ch, from, i })
              .then((id) => [ch, id!]),
          )
        }
      }
      return { ids: await Promise.all(sent) }
    },
  },
  {
    path: '/pump/:name',
    json: async ({ params, body }) => {
      pumps.set(params.name!, pump(params.name!, (body as { perSec: number }).perSec))
      return {}
    },
  },
  {
    path: '/pump/:name/stop',
    json: async ({ params }) => {
      const running = pumps.get(params.name!)
      pumps.delete(params.name!)
      return (await running?.stop()) ?? { error: 'no such pump' }
    },
  },
  {
    path: '/job/:name/start',
    json: async ({ params, body }) => {
      const ch = channel(params.name!)
      const lease = await ch.lease({ ttlMs: (body as { ttlMs?: number } | undefined)?.ttlMs })
      let n = 0
      const timer = setInterval(() => {
        ch.publish({ event: 'tick', data: { n: ++n } }).catch(report)
      }, 50)
      lease.signal.addEventListener('abort', () => {
        clearInterval(timer)
        ch.end({ event: 'stopped', data: { ticks: n } }).catch(report)
      })
      return {}
    },
  },
  {
    path: '/job/:name/cancel',
    json: async ({ params }) => {
      await channel(params.name!).cancel()
      return {}
    },
  },
]

const fail = (error: unknown) => ({ error: String((error as Error)?.message ?? error) })

async function startExpress(): Promise<Server> {
  const app = express()
  app.use(express.json(), expressSse())
  for (const route of routes) {
    const call = (req: express.Request): Call => ({
      params: req.params as Record<string, string>,
      query: new URL(req.url, 'http://x').searchParams,
      body: req.body,
    })
    if ('stream' in route) {
      app.get(route.path, (req, res) => route.stream(res.sse(), call(req)).catch(report))
    } else {
      app.post(route.path, (req, res) =>
        route.json(call(req)).then(
          (out) => res.json(out),
          (error) => res.status(500).json(fail(error)),
        ),
      )
    }
  }
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return server
}

async function startFastify(): Promise<Server> {
  const app = Fastify()
  await app.register(fastifySse)
  for (const route of routes) {
    if ('stream' in route) {
      app.get(route.path, (request, reply) =>
        route
          .stream(reply.sse(), {
            params: request.params as Record<string, string>,
            query: new URL(request.url, 'http://x').searchParams,
            body: undefined,
          })
          .catch(report),
      )
    } else {
      app.post(route.path, (request, reply) =>
        route
          .json({
            params: request.params as Record<string, string>,
            query: new URL(request.url, 'http://x').searchParams,
            body: request.body,
          })
          .catch((error) => reply.code(500).send(fail(error))),
      )
    }
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app.server
}

async function startHono(): Promise<Server> {
  const app = new Hono()
  app.use(honoSse())
  for (const route of routes) {
    if ('stream' in route) {
      app.get(route.path, (c) =>
        c.sse((stream) =>
          route
            .stream(stream, {
              params: c.req.param() as Record<string, string>,
              query: new URL(c.req.url).searchParams,
              body: undefined,
            })
            .then(() => {}, report),
        ),
      )
    } else {
      app.post(route.path, async (c) => {
        const text = await c.req.text()
        try {
          const out = await route.json({
            params: c.req.param() as Record<string, string>,
            query: new URL(c.req.url).searchParams,
            body: text === '' ? undefined : JSON.parse(text),
          })
          return c.json(out as object)
        } catch (error) {
          return c.json(fail(error), 500)
        }
      })
    }
  }
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () =>
      resolve(server as Server),
    )
  })
}

const starters: Record<string, () => Promise<Server>> = {
  express: startExpress,
  fastify: startFastify,
  hono: startHono,
}
const start = starters[ADAPTER]
if (start === undefined) throw new Error(`instance: ADAPTER must be express, fastify or hono`)
const server = await start()
const { port } = server.address() as AddressInfo
process.stdout.write(`${JSON.stringify({ port, pid: process.pid })}\n`)

const exit = () => {
  store.close()
  process.exit(0)
}
process.once('SIGTERM', exit)
process.stdin.on('end', exit)
process.stdin.resume()
