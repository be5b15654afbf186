/**
 * One connection, `config.streamEvents` 48-byte events, each sent only when the previous
 * one was accepted (`await send()`, or the library's equivalent): events/s from the first
 * send to the last event parsed, and server CPU per event. One target at a time.
 */
import type { Ctx, Live } from '../fleet.js'
import { median } from '../stats.js'
import type { Cpu, Timed } from './audience.js'

async function once(ctx: Ctx, l: Live, events: number): Promise<{ rate: number; cpu: number }> {
  const client = await ctx.clients.take(1)
  const g = `${l.target.name} stream`
  try {
    const started = l.server.next<Timed & Cpu>('stream-started')
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
    return {
      rate: events / ((done.t - start.t) / 1e9),
      cpu: ((cpu1.cpu - start.cpu) * 1000) / events,
    }
  } finally {
    await client.call('close', { group: g }).catch(() => {})
    ctx.clients.release(client, 1)
  }
}

export async function stream(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  await ctx.each('stream', async (l) => {
    await once(ctx, l, Math.ceil(c.streamEvents / 10))
    const runs: { rate: number; cpu: number }[] = []
    for (let i = 0; i < c.streamRuns; i++) runs.push(await once(ctx, l, c.streamEvents))
    r.set('stream', 'rate', l.target.name, rep, median(runs.map((x) => x.rate)))
    r.set('stream', 'cpuPerEvent', l.target.name, rep, median(runs.map((x) => x.cpu)))
  })
}
