/** The servers compared, each a module under ./targets exporting `start: Start`. */
export interface TargetInfo {
  name: string
  /** `floor` is the reference of every ratio; `ssekit` rows are compared with the peers. */
  kind: 'floor' | 'ssekit' | 'peer'
  file: string
  /** One line for the README and the printed legend. */
  what: string
  /** For ssekit rows: the targets the summary compares it with (default: all non-ssekit). */
  compare?: string[]
}

export const TARGETS: readonly TargetInfo[] = [
  {
    name: 'floor',
    kind: 'floor',
    file: 'floor.ts',
    what: 'node:http, res.write(prebuilt frame Buffer) to every client',
  },
  {
    name: 'floor/express',
    kind: 'floor',
    file: 'floor-express.ts',
    what: 'the same writes on Express 5 response objects',
  },
  {
    name: 'ssekit/core',
    kind: 'ssekit',
    file: 'ssekit-core.ts',
    what: 'node:http + createEventStream + createChannel',
  },
  {
    name: 'ssekit/express',
    kind: 'ssekit',
    file: 'ssekit-express.ts',
    what: 'Express 5 + @ssekit/express res.sse() + createChannel',
    compare: ['floor', 'floor/express', 'better-sse'],
  },
  {
    name: 'ssekit/hono',
    kind: 'ssekit',
    file: 'ssekit-hono.ts',
    what: 'Hono on @hono/node-server + @ssekit/hono c.sse() + createChannel',
    compare: ['floor', 'hono streamSSE'],
  },
  {
    name: 'ssekit/fastify',
    kind: 'ssekit',
    file: 'ssekit-fastify.ts',
    what: 'Fastify 5 + @ssekit/fastify reply.sse() + createChannel',
    compare: ['floor', '@fastify/sse'],
  },
  {
    name: 'better-sse',
    kind: 'peer',
    file: 'better-sse.ts',
    what: 'better-sse 0.16.1 on node:http: Channel#broadcast, Session#push',
  },
  {
    name: 'hono streamSSE',
    kind: 'peer',
    file: 'hono-streamsse.ts',
    what: 'Hono 4.13 streamSSE on @hono/node-server 2.1, writeSSE to each stream',
  },
  {
    name: '@fastify/sse',
    kind: 'peer',
    file: 'fastify-sse.js',
    what: '@fastify/sse 0.6.0 on Fastify 5, reply.sse.send to each stream',
  },
]
