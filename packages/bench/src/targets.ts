import type { Scenario } from './config.js'

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
  /** The hand-written floor on the same framework, where the framework itself costs more. */
  frameworkFloor?: string
  /** The library's default heartbeat (keep-alive comment), as the idle report shows it. */
  heartbeat: string
  /** The scenarios it runs in (default: all). */
  scenarios?: Scenario[]
}

/** Whether `t` runs in `scenario`. */
export const runsIn = (t: TargetInfo, scenario: Scenario) =>
  t.scenarios === undefined || t.scenarios.includes(scenario)

export const TARGETS: readonly TargetInfo[] = [
  {
    name: 'floor',
    kind: 'floor',
    file: 'floor.ts',
    what: 'node:http, res.write(prebuilt frame Buffer) to every client',
    heartbeat: 'none',
  },
  {
    name: 'floor/express',
    kind: 'floor',
    file: 'floor-express.ts',
    what: 'the same writes on Express 5 response objects',
    heartbeat: 'none',
  },
  {
    name: 'floor/heartbeat',
    kind: 'floor',
    file: 'floor-heartbeat.ts',
    what: 'node:http and one setInterval(15 s) writing a comment to every response (idle only)',
    heartbeat: '15 s',
    scenarios: ['idle'],
  },
  {
    name: 'floor/hono',
    kind: 'floor',
    file: 'floor-hono.ts',
    what: 'the same writes to the Node response under Hono on @hono/node-server',
    heartbeat: 'none',
    scenarios: ['heap', 'churn'],
  },
  {
    name: 'floor/fastify',
    kind: 'floor',
    file: 'floor-fastify.ts',
    what: 'the same writes to reply.raw of a hijacked Fastify 5 reply',
    heartbeat: 'none',
    scenarios: ['heap', 'churn'],
  },
  {
    name: 'ssekit/core',
    kind: 'ssekit',
    file: 'ssekit-core.ts',
    what: 'node:http + createEventStream + createChannel',
    compare: ['floor', 'floor/express', 'better-sse', 'hono streamSSE', '@fastify/sse'],
    heartbeat: '15 s',
  },
  {
    name: 'ssekit/express',
    kind: 'ssekit',
    file: 'ssekit-express.ts',
    what: 'Express 5 + @ssekit/express res.sse() + createChannel',
    compare: ['floor', 'floor/express', 'better-sse'],
    frameworkFloor: 'floor/express',
    heartbeat: '15 s',
  },
  {
    name: 'ssekit/hono',
    kind: 'ssekit',
    file: 'ssekit-hono.ts',
    what: 'Hono on @hono/node-server + @ssekit/hono c.sse() + createChannel',
    compare: ['floor', 'floor/hono', 'hono streamSSE'],
    frameworkFloor: 'floor/hono',
    heartbeat: '15 s',
  },
  {
    name: 'ssekit/fastify',
    kind: 'ssekit',
    file: 'ssekit-fastify.ts',
    what: 'Fastify 5 + @ssekit/fastify reply.sse() + createChannel',
    compare: ['floor', 'floor/fastify', '@fastify/sse'],
    frameworkFloor: 'floor/fastify',
    heartbeat: '15 s',
  },
  {
    name: 'better-sse',
    kind: 'peer',
    file: 'better-sse.ts',
    what: 'better-sse 0.16.1 on node:http: Channel#broadcast, Session#push',
    heartbeat: '10 s',
  },
  {
    name: 'hono streamSSE',
    kind: 'peer',
    file: 'hono-streamsse.ts',
    what: 'Hono 4.13 streamSSE on @hono/node-server 2.1, writeSSE to each stream',
    heartbeat: 'none',
  },
  {
    name: '@fastify/sse',
    kind: 'peer',
    file: 'fastify-sse.js',
    what: '@fastify/sse 0.6.0 on Fastify 5, reply.sse.send to each stream',
    heartbeat: '30 s',
  },
]
