/**
 * `pnpm bench` (from the repository root): ssekit side by side with a hand-written
 * node:http floor and its peers, in one run. See ../README.md for what each number means.
 *
 * Flags (after `pnpm bench --`): `--quick` (or BENCH_QUICK=1) for a fast smoke run,
 * `--only=name,name` to run some targets, `--skip=broadcast,stream,encode` to skip scenarios,
 * `--clients=N`, `--reps=N`.
 */

import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { EncodeResult } from './encode-bench.js'
import { Proc } from './proc.js'
import { FRAME } from './shared.js'
import { fmt, median, quantile, rate, ratio, table } from './stats.js'
import { TARGETS, type TargetInfo } from './targets.js'

const argv = process.argv.slice(2).filter((a) => a !== '--')
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1'

const config = {
  clients: Number(flag('clients') ?? 1000),
  reps: Number(flag('reps') ?? (quick ? 1 : 3)),
  /** Broadcasts before anything is measured, to warm the JIT and the sockets. */
  warmup: quick ? 50 : 150,
  /** Spaced single broadcasts timed end to end, per repetition. */
  samples: quick ? 15 : 40,
  /** Pause between two timed broadcasts, after the previous one was fully delivered. */
  gapMs: 5,
  /** Broadcasts in the sustained run, one per event-loop turn. */
  burst: quick ? 100 : 250,
  /** Time cap of the warm-up and of the sustained run (a slow target publishes fewer). */
  burstMs: quick ? 1000 : 2500,
  /** Events in the single-stream run (and a tenth of it as warm-up). */
  streamEvents: quick ? 20_000 : 100_000,
  streamRuns: 2,
}
const only = flag('only')?.split(',')
const skip = new Set(flag('skip')?.split(',') ?? [])
const targets = TARGETS.filter(
  (t) => only === undefined || only.includes(t.name) || t.kind === 'floor',
)

interface Result {
  latency: number[]
  /** Per repetition: the median latency. */
  repP50: number[]
  /** Time spent inside the publish() call on the server. */
  publishSync: number[]
  sustained: number[]
  /** Server CPU per broadcast to every client, microseconds. */
  cpuPerBroadcast: number[]
  stream: number[]
  /** Server CPU per event sent on the single stream, nanoseconds. */
  streamCpu: number[]
  errors: string[]
}

const results = new Map<string, Result>(
  targets.map((t) => [
    t.name,
    {
      latency: [],
      repP50: [],
      publishSync: [],
      sustained: [],
      cpuPerBroadcast: [],
      stream: [],
      streamCpu: [],
      errors: [],
    },
  ]),
)

// Both halves of a measurement run on the same clock: hrtime in nanoseconds.
type Timed = { t: number }
type Published = { t0: number; t1: number }
type Burst = Published & { published: number }
type Cpu = { cpu: number }

/** A target's server process, alive for one repetition. */
interface Live {
  target: TargetInfo
  r: Result
  server: Proc
  port: number
  /** Events the target has broadcast so far in this repetition. */
  round: number
  latency: number[]
}

const group = (l: Live) => l.target.name

function startServer(target: TargetInfo): Proc {
  const prof = process.env.BENCH_PROF
  return new Proc(
    './server.ts',
    [target.file],
    // One profile per thread (tsx's loader runs in a worker): pick the largest.
    prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}/${target.file}`],
  )
}

/** Connects the clients, waits until the target counts them all, then warms it up. */
async function join(l: Live, client: Proc): Promise<void> {
  const n = config.clients
  await client.call('connect', { group: group(l), port: l.port, path: '/events', n }, 60_000)
  for (let i = 0; ; i++) {
    const { n: subscribed } = await l.server.call<{ n: number }>('count')
    if (subscribed === n) break
    if (i > 500) throw new Error(`only ${subscribed} of ${n} clients subscribed`)
    await sleep(10)
  }
  const warm = await l.server.call<Burst>('burst', { count: config.warmup, maxMs: config.burstMs })
  l.round += warm.published
  await client.call('await', { group: group(l), round: l.round }, 60_000)
}

/** One broadcast, timed from the publish() call to the last client having parsed it. */
async function sample(l: Live, client: Proc): Promise<void> {
  l.round++
  const [done, pub] = await Promise.all([
    client.call<Timed>('await', { group: group(l), round: l.round }),
    l.server.call<Published>('publish'),
  ])
  l.latency.push((done.t - pub.t0) / 1e6)
  l.r.publishSync.push((pub.t1 - pub.t0) / 1e6)
  await sleep(config.gapMs)
}

/** The sustained broadcast and its server CPU, then a check that every client got all. */
async function sustained(l: Live, client: Proc): Promise<void> {
  const cpu0 = await l.server.call<Cpu>('cpu')
  const burst = await l.server.call<Burst>('burst', {
    count: config.burst,
    maxMs: config.burstMs,
  })
  l.round += burst.published
  // The client keeps the time each event completed: asking after the fact loses nothing.
  const done = await client.call<Timed>('await', { group: group(l), round: l.round }, 60_000)
  const cpu1 = await l.server.call<Cpu>('cpu')
  l.r.sustained.push(burst.published / ((done.t - burst.t0) / 1e9))
  l.r.cpuPerBroadcast.push((cpu1.cpu - cpu0.cpu) / burst.published)
  const status = await client.call<{
    dropped: number
    badStatus: number
    min: number
    max: number
  }>('status', { group: group(l) })
  if (
    status.dropped > 0 ||
    status.badStatus > 0 ||
    status.min !== l.round ||
    status.max !== l.round
  ) {
    throw new Error(
      `broadcast check failed: ${JSON.stringify(status)}, expected ${l.round} events each`,
    )
  }
  await client.call('close', { group: group(l) })
}

async function singleStream(
  l: Live,
  client: Proc,
  events: number,
): Promise<{ rate: number; cpu: number }> {
  const started = l.server.next<Timed & Cpu>('stream-started')
  const g = `${group(l)} stream`
  await client.call('connect', { group: g, port: l.port, path: `/stream?n=${events}`, n: 1 })
  const [done, start] = await Promise.all([
    client.call<Timed>('await', { group: g, round: events }, 120_000),
    started,
  ])
  const cpu1 = await l.server.call<Cpu>('cpu')
  const status = await client.call<{ badStatus: number; max: number }>('status', { group: g })
  if (status.badStatus > 0 || status.max !== events) {
    throw new Error(`stream check failed: ${JSON.stringify(status)}, expected ${events} events`)
  }
  await client.call('close', { group: g })
  return {
    rate: events / ((done.t - start.t) / 1e9),
    cpu: ((cpu1.cpu - start.cpu) * 1000) / events,
  }
}

async function streams(l: Live, client: Proc): Promise<void> {
  await singleStream(l, client, Math.ceil(config.streamEvents / 10))
  for (let i = 0; i < config.streamRuns; i++) {
    const { rate, cpu } = await singleStream(l, client, config.streamEvents)
    l.r.stream.push(rate)
    l.r.streamCpu.push(cpu)
  }
}

/**
 * One repetition. Every target's server runs at once, each with its own 1,000 clients,
 * and the timed broadcasts go round-robin between them: a burst of load from elsewhere
 * on the machine then hits every target alike instead of whichever ran at that moment.
 * Warm-up, the sustained run and the single stream run one target at a time.
 */
async function repetition(rep: number, client: Proc): Promise<void> {
  // Rotate the order every repetition so that no target always runs first or last.
  const order = targets.map((_, i) => targets[(i + rep) % targets.length]!)
  let live: Live[] = []
  const fail = async (target: TargetInfo, server: Proc, error: unknown) => {
    results.get(target.name)!.errors.push(String((error as Error)?.message ?? error))
    await client.call('close', { group: target.name }).catch(() => {})
    await server.stop()
  }
  const each = async (step: (l: Live, client: Proc) => Promise<void>) => {
    const kept: Live[] = []
    for (const l of live) {
      try {
        await step(l, client)
        kept.push(l)
      } catch (error) {
        await fail(l.target, l.server, error)
      }
    }
    live = kept
  }
  const t = Date.now()
  const phase = (name: string) =>
    process.stdout.write(`${name} ${((Date.now() - t) / 1000).toFixed(0)}s  `)
  process.stdout.write(`  rep ${rep + 1}/${config.reps}:  `)
  for (const target of order) {
    const server = startServer(target)
    try {
      const { port } = await server.next<{ port: number }>('ready', 60_000)
      live.push({ target, r: results.get(target.name)!, server, port, round: 0, latency: [] })
    } catch (error) {
      await fail(target, server, error)
    }
  }
  phase('started')
  if (!skip.has('broadcast')) {
    await each(join)
    phase('joined+warm')
    for (let i = 0; i < config.samples; i++) await each(sample)
    for (const l of live) {
      l.r.latency.push(...l.latency)
      l.r.repP50.push(median(l.latency))
    }
    phase('latency')
    await each(sustained)
    phase('sustained')
  }
  if (!skip.has('stream')) {
    await each(streams)
    phase('stream')
  }
  for (const l of live) await l.server.stop()
  process.stdout.write('\n')
}

async function encodeBench(): Promise<EncodeResult[]> {
  const child = new Proc('./encode-bench.ts')
  const { results } = await child.next<{ results: EncodeResult[] }>('encode', 120_000)
  await child.stop()
  return results
}

function checkResolution(): void {
  // tsx must not map @ssekit/* to their sources (tsconfig paths): measure what users run.
  const core = fileURLToPath(import.meta.resolve('@ssekit/core'))
  if (!core.includes('/dist/')) {
    throw new Error(
      `@ssekit/core resolves to ${core}; run through \`pnpm bench\` (TSX_TSCONFIG_PATH=tsconfig.run.json) after \`pnpm build\`.`,
    )
  }
}

// ---------------------------------------------------------------- run

checkResolution()
const started = Date.now()
const machine = `${new Date().toISOString().slice(0, 10)}  node ${process.version}  nproc ${os.availableParallelism()}  ${os.cpus()[0]?.model ?? ''}`
console.log(
  `ssekit bench${quick ? ' (quick)' : ''}  ${machine}  load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)
console.log(
  `${config.clients} clients, ${config.reps} repetition(s), frame ${Buffer.byteLength(FRAME)} B: ${JSON.stringify(FRAME)}\n`,
)

if (!skip.has('broadcast') || !skip.has('stream')) {
  const client = new Proc('./client.ts')
  await client.next('ready')
  for (let rep = 0; rep < config.reps; rep++) await repetition(rep, client)
  await client.stop()
}
const encodeResults = skip.has('encode') ? [] : await encodeBench()

// ---------------------------------------------------------------- report

const floor = results.get('floor')!
const p50 = (r: Result) => median(r.latency)
const spread = (values: number[], f = fmt) =>
  values.length > 1 ? `${f(Math.min(...values))}–${f(Math.max(...values))}` : ''
const ok = (t: TargetInfo) => results.get(t.name)!.errors.length === 0

console.log()
if (!skip.has('broadcast')) {
  console.log(
    `1. Broadcast to ${config.clients} clients: time from publish() to the last client having the frame (ms; lower is better)`,
  )
  console.log(
    table(
      ['target', 'p50', 'p95', 'p50 per rep', 'in publish()', 'vs floor'],
      targets.map((t) => {
        const r = results.get(t.name)!
        if (!ok(t)) return [t.name, 'failed']
        return [
          t.name,
          fmt(p50(r)),
          fmt(quantile(r.latency, 0.95)),
          spread(r.repP50),
          fmt(median(r.publishSync)),
          ratio(p50(r), p50(floor)),
        ]
      }),
    ),
  )
  console.log(
    `\n   Sustained broadcast, ${config.burst} events (or ${config.burstMs / 1000} s), one per event-loop turn (higher is better; CPU: server, lower is better)`,
  )
  console.log(
    table(
      [
        'target',
        'events/s',
        'deliveries/s',
        'range',
        'vs floor',
        'CPU µs/broadcast',
        'ns/delivery',
        'CPU vs floor',
      ],
      targets.map((t) => {
        const r = results.get(t.name)!
        if (!ok(t)) return [t.name, 'failed']
        const cpu = median(r.cpuPerBroadcast)
        return [
          t.name,
          rate(median(r.sustained)),
          rate(median(r.sustained) * config.clients),
          spread(r.sustained, rate),
          ratio(median(r.sustained), median(floor.sustained)),
          fmt(cpu, 0),
          fmt((cpu * 1000) / config.clients, 0),
          ratio(cpu, median(floor.cpuPerBroadcast)),
        ]
      }),
    ),
  )
  console.log()
}

if (!skip.has('stream')) {
  console.log(
    `2. One client, ${config.streamEvents} events sent with backpressure honoured (events/s; higher is better)`,
  )
  console.log(
    table(
      ['target', 'events/s', 'MB/s', 'range', 'vs floor', 'CPU ns/event', 'CPU vs floor'],
      targets.map((t) => {
        const r = results.get(t.name)!
        if (!ok(t)) return [t.name, 'failed']
        return [
          t.name,
          rate(median(r.stream)),
          fmt((median(r.stream) * Buffer.byteLength(FRAME)) / 1e6, 1),
          spread(r.stream, rate),
          ratio(median(r.stream), median(floor.stream)),
          fmt(median(r.streamCpu), 0),
          ratio(median(r.streamCpu), median(floor.streamCpu)),
        ]
      }),
    ),
  )
  console.log()
}

if (encodeResults.length > 0) {
  console.log('3. Encoding one event to its frame text (ns per call, mean; lower is better)')
  const base = (group: string) =>
    encodeResults.find((e) => e.group === group && e.name.startsWith('ssekit'))!
  console.log(
    table(
      ['case', 'encoder', 'mean', 'p99', 'ssekit ÷ this', 'note'],
      encodeResults.map((e) => [
        e.group,
        e.name,
        fmt(e.avg, 0),
        fmt(e.p99, 0),
        ratio(base(e.group).avg, e.avg),
        e.note ?? '',
      ]),
    ),
  )
  console.log()
}

// The headline: the number for the issue note, against every reference.
const core = results.get('ssekit/core')
if (!skip.has('broadcast') && core !== undefined && core.errors.length === 0) {
  console.log(`Time to deliver one event to ${config.clients} clients (p50, ms):`)
  for (const o of targets.filter(
    (t) => t.kind !== 'ssekit' && t.name !== 'floor/express' && ok(t),
  )) {
    const b = results.get(o.name)!
    console.log(
      `  ssekit/core broadcast p50 ${fmt(p50(core))} ms  ${o.name} ${fmt(p50(b))} ms  ratio ${ratio(p50(core), p50(b))}`,
    )
  }
  console.log()
}

type Metric = [string, (r: Result) => number, 'broadcast' | 'stream']
const metrics: Metric[] = [
  ['bcast p50', p50, 'broadcast'],
  ['bcast p95', (r) => quantile(r.latency, 0.95), 'broadcast'],
  ['sustained ev/s', (r) => median(r.sustained), 'broadcast'],
  ['CPU/bcast', (r) => median(r.cpuPerBroadcast), 'broadcast'],
  ['stream ev/s', (r) => median(r.stream), 'stream'],
  ['CPU/event', (r) => median(r.streamCpu), 'stream'],
]
const shown = metrics.filter(([, , scenario]) => !skip.has(scenario))
const summary: string[][] = []
for (const s of targets.filter((t) => t.kind === 'ssekit' && ok(t))) {
  const others = targets.filter(
    (t) => t.kind !== 'ssekit' && ok(t) && (s.compare === undefined || s.compare.includes(t.name)),
  )
  for (const o of others) {
    const a = results.get(s.name)!
    const b = results.get(o.name)!
    summary.push([s.name, o.name, ...shown.map(([, f]) => ratio(f(a), f(b)))])
  }
}
if (shown.length > 0) {
  console.log(
    'Summary: ssekit ÷ other (time, CPU: below 1x is better; throughput: above 1x is better)',
  )
  console.log(table(['ssekit', 'vs', ...shown.map(([name]) => name)], summary))
}

const failed = targets.filter((t) => !ok(t))
for (const t of failed) console.log(`\n${t.name} failed: ${results.get(t.name)!.errors.join('; ')}`)
const load = os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(' ')
console.log(
  `\n${machine}; load average at the end ${load}; total ${((Date.now() - started) / 1000).toFixed(0)} s`,
)
if (failed.some((t) => t.kind !== 'peer')) process.exitCode = 1
