/**
 * What a run measures and how much: three presets (full, `--quick`, `--smoke`) and the
 * flags that override them.
 */

import { TARGETS } from './targets.js'

/** The scenarios, in the order a repetition runs them. */
export const SCENARIOS = [
  'heap',
  'broadcast',
  'bursts',
  'stream',
  'fanout',
  'churn',
  'idle',
  'encode',
] as const
export type Scenario = (typeof SCENARIOS)[number]

export interface Config {
  preset: 'full' | 'quick' | 'smoke'
  scenarios: ReadonlySet<Scenario>
  /** Target names to run (the floors always run); undefined: all. */
  only: string[] | undefined
  /** Where to write the results as JSON (for the smoke test). */
  json: string | undefined
  reps: number
  /** Clients of the broadcast and burst scenarios. */
  clients: number
  /** Broadcasts before anything is measured, to warm the JIT and the sockets. */
  warmup: number
  /** Spaced single broadcasts timed end to end, per repetition. */
  samples: number
  /** Pause between two timed broadcasts, after the previous one was fully delivered. */
  gapMs: number
  /** Broadcasts in the sustained run, one per event-loop turn. */
  burst: number
  /** Time cap of the warm-up and of the sustained run (a slow target publishes fewer). */
  burstMs: number
  /** Events in the single-stream run (and a tenth of it as warm-up). */
  streamEvents: number
  streamRuns: number
  /** Fan-out sizes, ascending: the clients of one size stay for the next. */
  fanout: number[]
  fanoutHz: number
  /** Publishes on the fixed schedule, per size (and a few more as warm-up). */
  fanoutPublishes: number
  fanoutWarm: number
  /** A delivery counts as on schedule up to this long after the last scheduled publish. */
  fanoutGraceMs: number
  /** Idle streams opened to measure the heap per connection (after a few for warm-up). */
  heapClients: number
  heapWarm: number
  /** Publishes in one tick, per burst. */
  burstsPublishes: number
  burstsWarm: number
  burstsTimed: number
  churnParallel: number
  churnMs: number
  idleClients: number
  idleMs: number
}

const PRESETS: Record<Config['preset'], Omit<Config, 'preset' | 'scenarios' | 'only' | 'json'>> = {
  full: {
    reps: 3,
    clients: 1000,
    warmup: 100,
    samples: 25,
    gapMs: 5,
    burst: 250,
    burstMs: 2500,
    streamEvents: 100_000,
    streamRuns: 2,
    fanout: [5000, 10_000],
    fanoutHz: 20,
    fanoutPublishes: 30,
    fanoutWarm: 3,
    fanoutGraceMs: 500,
    heapClients: 2000,
    heapWarm: 50,
    burstsPublishes: 100,
    burstsWarm: 0,
    burstsTimed: 2,
    churnParallel: 50,
    churnMs: 1500,
    idleClients: 10_000,
    idleMs: 35_000,
  },
  quick: {
    reps: 1,
    clients: 1000,
    warmup: 50,
    samples: 15,
    gapMs: 5,
    burst: 100,
    burstMs: 1000,
    streamEvents: 20_000,
    streamRuns: 2,
    fanout: [5000, 10_000],
    fanoutHz: 20,
    fanoutPublishes: 20,
    fanoutWarm: 3,
    fanoutGraceMs: 500,
    heapClients: 1000,
    heapWarm: 50,
    burstsPublishes: 100,
    burstsWarm: 0,
    burstsTimed: 1,
    churnParallel: 50,
    churnMs: 1000,
    idleClients: 2000,
    idleMs: 16_000,
  },
  // Every scenario, tiny: for `pnpm test` (src/smoke.test.ts), numbers meaningless.
  smoke: {
    reps: 1,
    clients: 20,
    warmup: 5,
    samples: 3,
    gapMs: 5,
    burst: 20,
    burstMs: 300,
    streamEvents: 2000,
    streamRuns: 1,
    fanout: [20, 40],
    fanoutHz: 20,
    fanoutPublishes: 4,
    fanoutWarm: 2,
    fanoutGraceMs: 500,
    heapClients: 20,
    heapWarm: 5,
    burstsPublishes: 100,
    burstsWarm: 0,
    burstsTimed: 1,
    churnParallel: 5,
    churnMs: 200,
    idleClients: 20,
    idleMs: 500,
  },
}

function positive(name: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`--${name}=${value}: must be a whole number, at least 1`)
  }
  return n
}

function scenarioList(name: string, value: string): Scenario[] {
  const list = value.split(',').filter((s) => s !== '')
  for (const s of list) {
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      throw new Error(
        `--${name}: unknown scenario "${s}"; the scenarios are ${SCENARIOS.join(',')}`,
      )
    }
  }
  return list as Scenario[]
}

/** The configuration for these command-line arguments (after `pnpm bench --`). */
export function parseConfig(args: readonly string[], env: NodeJS.ProcessEnv): Config {
  const argv = args.filter((a) => a !== '--')
  const flag = (name: string) => {
    const arg = argv.find((a) => a.startsWith(`--${name}=`))
    return arg?.slice(name.length + 3)
  }
  const known = [
    '--quick',
    '--smoke',
    ...[
      'scenarios',
      'skip',
      'only',
      'json',
      'reps',
      'clients',
      'fanout',
      'heap',
      'idle',
      'idle-ms',
    ].map((f) => `--${f}=`),
  ]
  for (const a of argv) {
    if (!known.some((k) => (k.endsWith('=') ? a.startsWith(k) : a === k))) {
      throw new Error(`unknown argument ${a}; see packages/bench/README.md`)
    }
  }
  const preset = argv.includes('--smoke')
    ? 'smoke'
    : argv.includes('--quick') || env.BENCH_QUICK === '1'
      ? 'quick'
      : 'full'
  const c: Config = {
    ...PRESETS[preset],
    preset,
    scenarios: new Set(SCENARIOS),
    only: flag('only')?.split(','),
    json: flag('json'),
  }
  if (c.only !== undefined) {
    const names = TARGETS.map((t) => t.name)
    const unknown = c.only.filter((name) => !names.includes(name))
    if (unknown.length > 0) {
      throw new Error(
        `--only: unknown target "${unknown.join(',')}"; the targets are ${names.join(',')}`,
      )
    }
  }
  const picked = flag('scenarios')
  const skipped = new Set(scenarioList('skip', flag('skip') ?? ''))
  c.scenarios = new Set(
    (picked === undefined ? [...SCENARIOS] : scenarioList('scenarios', picked)).filter(
      (s) => !skipped.has(s),
    ),
  )
  if (c.scenarios.size === 0) {
    throw new Error('--scenarios/--skip: that leaves no scenario to run')
  }
  const number = (name: string) => {
    const value = flag(name)
    return value === undefined ? undefined : positive(name, value)
  }
  c.reps = number('reps') ?? c.reps
  c.clients = number('clients') ?? c.clients
  c.heapClients = number('heap') ?? c.heapClients
  c.idleClients = number('idle') ?? c.idleClients
  c.idleMs = number('idle-ms') ?? c.idleMs
  const fanout = flag('fanout')
  if (fanout !== undefined) {
    c.fanout = fanout
      .split(',')
      .map((n) => positive('fanout', n))
      .sort((a, b) => a - b)
  }
  return c
}
