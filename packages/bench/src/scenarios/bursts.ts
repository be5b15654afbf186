/**
 * Bursts: `burstsPublishes` publishes in one tick (one synchronous loop) to the audience:
 * wall time from the first publish until every client has all of them, server CPU over
 * the same span, and the write syscalls the server made for one burst, counted by strace
 * attached to the server process (or, without strace, by counting socket writes inside it).
 */
import { type Ctx, type Live, round } from '../fleet.js'
import { median } from '../stats.js'
import { traceWrites } from '../strace.js'
import { audience, type Cpu, checkDelivered, type Published, type Timed } from './audience.js'

type Tick = Published & { cpu0: number }

async function timed(ctx: Ctx, l: Live): Promise<{ wall: number; cpu: number; inCall: number }> {
  const g = await audience(ctx, l)
  const count = ctx.config.burstsPublishes
  const tick = await l.server.call<Tick>('burst-tick', { count })
  l.published += count
  const done = await g.client.call<Timed>('await', { group: g.name, round: round(g) }, 60_000)
  const cpu1 = await l.server.call<Cpu>('cpu')
  return {
    wall: (done.t - tick.t0) / 1e6,
    cpu: (cpu1.cpu - tick.cpu0) / 1000,
    inCall: (tick.t1 - tick.t0) / 1e6,
  }
}

/** One burst with its writes counted; nothing else writes in the server meanwhile. */
async function traced(ctx: Ctx, l: Live): Promise<{ total: number; sockets: number }> {
  const g = await audience(ctx, l)
  const count = ctx.config.burstsPublishes
  const info = await l.server.call<{ pid: number; channelFd: number }>('info')
  const counted = await traceWrites(info.pid, info.channelFd, l.server, async () => {
    // No answer until the trace is over: the answer would be a write of its own.
    l.server.tell('burst-tick', { count, quiet: true })
    l.published += count
    await g.client.call<Timed>('await', { group: g.name, round: round(g) }, 120_000)
  })
  await l.server.call('last-burst')
  return counted
}

export async function bursts(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  const runs = new Map<Live, { wall: number; cpu: number; inCall: number }[]>()
  // Round-robin, so that load from elsewhere on the machine hits every target alike.
  for (let i = 0; i < c.burstsWarm + c.burstsTimed; i++) {
    await ctx.each('bursts', async (l) => {
      const run = await timed(ctx, l)
      if (i >= c.burstsWarm) runs.set(l, [...(runs.get(l) ?? []), run])
    })
  }
  await ctx.each('bursts', async (l) => {
    const list = runs.get(l) ?? []
    const name = l.target.name
    r.set('bursts', 'wall', name, rep, median(list.map((x) => x.wall)))
    r.set('bursts', 'cpu', name, rep, median(list.map((x) => x.cpu)))
    r.set('bursts', 'inCall', name, rep, median(list.map((x) => x.inCall)))
    const writes = await traced(ctx, l)
    r.set('bursts', 'writes', name, rep, writes.total)
    r.set('bursts', 'socketWrites', name, rep, writes.sockets)
    await checkDelivered(await audience(ctx, l))
  })
}
