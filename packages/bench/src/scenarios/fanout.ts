/**
 * Fan-out to many connections on a fixed schedule: `fanoutHz` publishes a second for
 * `fanoutPublishes` publishes, each due at its time from the first; one that comes due
 * while the server is busy goes out as soon as it can, none later than `fanoutGraceMs`
 * after the last was due. Per size: server CPU per delivered event; deliveries that arrived
 * by then ÷ deliveries scheduled (does the target keep the schedule?); the latency of every
 * delivery from its publish() call. The clients of one size stay for the next (5,000, then
 * 5,000 more). One target at a time, all its clients in one client process.
 */
import { type Ctx, type Group, type Live, round } from '../fleet.js'
import type { Cpu } from './audience.js'

type Schedule = { start: number; end: number; t0s: number[]; lagMax: number }
type Latency = {
  conns: number
  expected: number
  delivered: number
  onTime: number
  p50: number
  p99: number
  max: number
}

async function schedule(ctx: Ctx, l: Live, count: number): Promise<Schedule> {
  const { fanoutHz: hz, fanoutGraceMs: graceMs } = ctx.config
  const s = await l.server.call<Schedule>(
    'schedule',
    { hz, count, graceMs },
    (count / hz) * 1000 + graceMs + 60_000,
  )
  l.published += s.t0s.length
  return s
}

/** Waits for every group to have every event published, up to `ms`; false if some are missing. */
async function delivered(groups: Group[], ms: number): Promise<boolean> {
  try {
    await Promise.all(
      groups.map((g) => g.client.call('await', { group: g.name, round: round(g) }, ms)),
    )
    return true
  } catch {
    return false
  }
}

async function measure(ctx: Ctx, l: Live, groups: Group[]) {
  const c = ctx.config
  const client = groups[0]!.client
  const names = groups.map((g) => g.name)
  await client.call('mark', { groups: names })
  const cpu0 = await l.server.call<Cpu>('cpu')
  const clientCpu0 = await client.call<Cpu>('cpu')
  const s = await schedule(ctx, l, c.fanoutPublishes)
  // What was published, delivered, so that the CPU it took is all counted; up to 10 s.
  await delivered(groups, 10_000)
  const cpu1 = await l.server.call<Cpu>('cpu')
  const clientCpu1 = await client.call<Cpu>('cpu')
  const lat = await client.call<Latency>(
    'latency',
    { groups: names, t0s: s.t0s, deadline: s.end },
    60_000,
  )
  let dropped = 0
  for (const g of groups) {
    dropped += (await g.client.call<{ dropped: number }>('status', { group: g.name })).dropped
  }
  return {
    /** Server CPU per delivered event, ns. */
    cpu: ((cpu1.cpu - cpu0.cpu) * 1000) / lat.delivered,
    /** Deliveries by the end of the schedule (+ grace) ÷ deliveries scheduled. */
    onTime: lat.onTime / (lat.conns * c.fanoutPublishes),
    /** Publishes made ÷ scheduled. */
    published: s.t0s.length / c.fanoutPublishes,
    p50: lat.p50,
    p99: lat.p99,
    lag: s.lagMax / 1e6,
    clientCpu: ((clientCpu1.cpu - clientCpu0.cpu) / ((clientCpu1.t - clientCpu0.t) / 1e3)) * 100,
    dropped,
  }
}

export async function fanout(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  const most = c.fanout.at(-1) ?? 0
  await ctx.each('fanout', async (l) => {
    const client = await ctx.clients.take(most)
    const groups: Group[] = []
    let joined = 0
    try {
      for (const n of c.fanout) {
        groups.push(await ctx.join(l, `fan-out ${n}`, n - joined, client))
        joined = n
        await schedule(ctx, l, c.fanoutWarm)
        if (!(await delivered(groups, 30_000))) throw new Error(`warm-up at ${n} not delivered`)
        const m = await measure(ctx, l, groups)
        for (const [metric, value] of Object.entries(m)) {
          r.set('fanout', `${metric}@${n}`, l.target.name, rep, value)
        }
      }
    } finally {
      // Room reserved beyond the groups joined (a failed join) goes back to the pool.
      ctx.clients.release(client, most - joined)
    }
    await ctx.closeAll(l)
  })
}
