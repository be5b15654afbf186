/**
 * Broadcast to `config.clients` clients: single broadcasts timed from the publish() call
 * to the last client having parsed the frame, round-robin between the targets, then a
 * sustained broadcast (one publish per event-loop turn) with its server CPU.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type Ctx, type Live, round } from '../fleet.js'
import { median, quantile } from '../stats.js'
import {
  audience,
  type Burst,
  type Cpu,
  checkDelivered,
  type Published,
  type Timed,
} from './audience.js'

export async function broadcast(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  // Joined and warmed up all at once: nothing is measured yet.
  await ctx.all('broadcast', async (l) => {
    await audience(ctx, l)
  })
  const latency = new Map<Live, number[]>()
  const inPublish = new Map<Live, number[]>()
  for (let i = 0; i < c.samples; i++) {
    await ctx.each('broadcast', async (l) => {
      const g = await audience(ctx, l)
      l.published++
      const [done, pub] = await Promise.all([
        g.client.call<Timed>('await', { group: g.name, round: round(g) }),
        l.server.call<Published>('publish'),
      ])
      latency.set(l, [...(latency.get(l) ?? []), (done.t - pub.t0) / 1e6])
      inPublish.set(l, [...(inPublish.get(l) ?? []), (pub.t1 - pub.t0) / 1e6])
      await sleep(c.gapMs)
    })
  }
  for (const l of ctx.live) {
    const samples = latency.get(l) ?? []
    if (samples.length !== c.samples) continue
    const name = l.target.name
    r.pool('broadcast', 'latency', name, samples)
    r.pool('broadcast', 'inPublish', name, inPublish.get(l) ?? [])
    r.set('broadcast', 'p50', name, rep, median(samples))
    r.set('broadcast', 'p95', name, rep, quantile(samples, 0.95))
  }
  // The sustained run, one target at a time.
  await ctx.each('broadcast', async (l) => {
    const g = await audience(ctx, l)
    const cpu0 = await l.server.call<Cpu>('cpu')
    const burst = await l.server.call<Burst>('burst', { count: c.burst, maxMs: c.burstMs })
    l.published += burst.published
    // The client keeps the time each event completed: asking after the fact loses nothing.
    const done = await g.client.call<Timed>('await', { group: g.name, round: round(g) }, 60_000)
    const cpu1 = await l.server.call<Cpu>('cpu')
    await checkDelivered(g)
    r.set(
      'broadcast',
      'sustained',
      l.target.name,
      rep,
      burst.published / ((done.t - burst.t0) / 1e9),
    )
    r.set(
      'broadcast',
      'cpuPerBroadcast',
      l.target.name,
      rep,
      (cpu1.cpu - cpu0.cpu) / burst.published,
    )
  })
}
