/**
 * `pnpm bench` (from the repository root): ssekit side by side with a hand-written
 * node:http floor and its peers, in one run. See ../README.md for what each number means.
 *
 * Flags (after `pnpm bench --`): `--quick` (or BENCH_QUICK=1) for a short run of every
 * scenario, `--smoke` for a tiny one (the test), `--scenarios=a,b` or `--skip=a,b`,
 * `--only=name,name` to run some targets, `--reps=N`, `--clients=N`, `--fanout=N,N`,
 * `--heap=N`, `--idle=N`, `--idle-ms=N`, `--json=file`.
 */

import { existsSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseConfig, SCENARIOS, type Scenario } from './config.js'
import type { EncodeResult } from './encode-bench.js'
import { ClientPool, Ctx, type Live, startServer } from './fleet.js'
import { capacity, raiseFdLimit } from './limits.js'
import { Proc, spawned } from './proc.js'
import { report } from './report.js'
import { Results } from './results.js'
import { dismiss } from './scenarios/audience.js'
import { broadcast } from './scenarios/broadcast.js'
import { bursts } from './scenarios/bursts.js'
import { churn } from './scenarios/churn.js'
import { fanout } from './scenarios/fanout.js'
import { heap } from './scenarios/heap.js'
import { idle } from './scenarios/idle.js'
import { stream } from './scenarios/stream.js'
import { FRAME } from './shared.js'
import { writeCounter } from './strace.js'
import { runsIn, TARGETS } from './targets.js'

const config = parseConfig(process.argv.slice(2), process.env)
const targets = TARGETS.filter(
  (t) =>
    (config.only === undefined || config.only.includes(t.name) || t.kind === 'floor') &&
    [...config.scenarios].some((s) => runsIn(t, s)),
)
const results = new Results()

const PHASES: Record<Exclude<Scenario, 'encode'>, (ctx: Ctx) => Promise<void>> = {
  heap,
  broadcast,
  bursts,
  stream,
  fanout,
  churn,
  idle,
}

/**
 * One repetition: a server process per target, all started at once and kept for every
 * scenario (a scenario that fails on one restarts it), in an order rotated each repetition
 * so that no target always goes first or last.
 */
async function repetition(rep: number, clients: ClientPool): Promise<void> {
  const order = targets.map((_, i) => targets[(i + rep) % targets.length]!)
  const t = Date.now()
  const phase = (name: string) =>
    process.stdout.write(`${name} ${((Date.now() - t) / 1000).toFixed(0)}s  `)
  process.stdout.write(`  rep ${rep + 1}/${config.reps}:  `)
  const live: Live[] = []
  await Promise.all(
    order.map(async (target) => {
      try {
        live.push(await startServer(target))
      } catch (error) {
        for (const s of config.scenarios) results.fail(s, target.name, String(error))
      }
    }),
  )
  live.sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target))
  phase('started')
  const ctx = new Ctx(config, results, rep, clients, live)
  try {
    for (const scenario of SCENARIOS) {
      if (scenario === 'encode' || !config.scenarios.has(scenario)) continue
      await PHASES[scenario](ctx)
      // The broadcast audience serves the bursts too; it leaves after both.
      if (scenario === 'broadcast' || scenario === 'bursts') {
        if (scenario === 'bursts' || !config.scenarios.has('bursts')) await dismiss(ctx)
      }
      phase(scenario)
    }
  } finally {
    await Promise.all(live.map((l) => l.server.stop()))
    process.stdout.write('\n')
  }
}

async function encodeBench(): Promise<EncodeResult[]> {
  const child = new Proc('./encode-bench.ts', [config.preset])
  try {
    const { results } = await child.next<{ results: EncodeResult[] }>('encode', 120_000)
    return results
  } finally {
    await child.stop()
  }
}

function checkResolution(): void {
  // tsx must not map @ssekit/* to their sources (tsconfig paths): measure what users run.
  const core = fileURLToPath(import.meta.resolve('@ssekit/core'))
  if (!core.includes('/dist/')) {
    throw new Error(
      `@ssekit/core resolves to ${core}; run through \`pnpm bench\` (TSX_TSCONFIG_PATH=tsconfig.run.json) after \`pnpm build\`.`,
    )
  }
  // Every package a target loads must be built: a server that cannot start would be waited for.
  for (const name of ['core', 'express', 'fastify', 'hono']) {
    const entry = fileURLToPath(import.meta.resolve(`@ssekit/${name}`))
    if (!existsSync(entry)) {
      throw new Error(`@ssekit/${name} is not built (${entry} is missing): run pnpm build first.`)
    }
  }
}

// ---------------------------------------------------------------- run

checkResolution()
const limit = raiseFdLimit()
const started = Date.now()
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')
const machine = `${new Date().toISOString().slice(0, 10)}  node ${process.version}  nproc ${os.availableParallelism()}  ${os.cpus()[0]?.model ?? ''}`
const loadAtStart = load()
console.log(
  `ssekit bench (${config.preset})  ${machine}  load average ${loadAtStart}  open files ${limit}`,
)
console.log(
  `scenarios ${[...config.scenarios].join(',')}; ${config.reps} repetition(s); frame ${Buffer.byteLength(FRAME)} B: ${JSON.stringify(FRAME)}; writes counted by ${writeCounter()}\n`,
)

if ([...config.scenarios].some((s) => s !== 'encode')) {
  const clients = new ClientPool(capacity(limit))
  try {
    for (let rep = 0; rep < config.reps; rep++) await repetition(rep, clients)
  } finally {
    await clients.stop()
  }
}
const encodeResults = config.scenarios.has('encode') ? await encodeBench() : []

console.log()
console.log(report(config, targets, results, encodeResults))
const failed = targets.filter((t) => [...config.scenarios].some((s) => !results.ok(s, t.name)))
for (const t of failed) {
  for (const s of config.scenarios) {
    const errors = results.errors(s, t.name)
    if (errors.length > 0) console.log(`\n${t.name} failed ${s}: ${errors.join('; ')}`)
  }
}
const seconds = (Date.now() - started) / 1000
console.log(
  `\n${machine}; load average at the start ${loadAtStart}, at the end ${load()}; total ${seconds.toFixed(0)} s`,
)
if (config.json !== undefined) {
  writeFileSync(
    config.json,
    JSON.stringify(
      {
        preset: config.preset,
        scenarios: [...config.scenarios],
        targets: targets.map((t) => t.name),
        results: results.toJSON(),
        encode: encodeResults,
        spawned,
        seconds,
      },
      null,
      2,
    ),
  )
}
if (failed.some((t) => t.kind !== 'peer')) process.exitCode = 1
