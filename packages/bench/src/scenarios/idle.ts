/**
 * Idle: `idleClients` open streams on every target, nothing published, each library's
 * default heartbeat running, for `idleMs`: server CPU as a percentage of one core
 * (`process.cpuUsage()` over the window), and the heartbeats the clients received in it. Every target at once, each with its own client
 * process (10,000 connections each): idle servers barely compete for the cores.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Ctx, Group, Live } from '../fleet.js'
import type { Cpu } from './audience.js'

export async function idle(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  const groups = new Map<Live, Group>()
  await ctx.all('idle', async (l) => {
    groups.set(l, await ctx.join(l, 'idle', c.idleClients))
  })
  const comments = async (g: Group) =>
    (await g.client.call<{ comments: number }>('status', { group: g.name })).comments
  await ctx.all('idle', async (l) => {
    const g = groups.get(l)!
    const beats0 = await comments(g)
    const cpu0 = await l.server.call<Cpu>('cpu')
    await sleep(c.idleMs)
    const cpu1 = await l.server.call<Cpu>('cpu')
    const beats = (await comments(g)) - beats0
    const cpu = cpu1.cpu - cpu0.cpu
    r.set('idle', 'cpuPct', l.target.name, rep, (cpu / ((cpu1.t - cpu0.t) / 1e3)) * 100)
    r.set('idle', 'heartbeats', l.target.name, rep, beats)
    r.set('idle', 'cpuUs', l.target.name, rep, cpu)
  })
  await ctx.all('idle', (l) => ctx.closeAll(l))
  await ctx.clients.trim()
}
