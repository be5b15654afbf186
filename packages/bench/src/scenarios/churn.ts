/**
 * Churn: `churnParallel` loops, each opening a stream on `/events`, reading the response
 * head, closing, and again, for `churnMs`: cycles per second. Then what the server process
 * still holds once every client is gone, against what it held before: its streams (the
 * target's own count; for ssekit also `getMetrics().openStreams`), connections, active
 * handles (`process.getActiveResourcesInfo()`), timers the churn armed that still are
 * (unref'd ones included),
 * listeners on `process` and on the http server, and heap after GC. One target at a time.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Ctx, Live } from '../fleet.js'

export type Left = {
  subscribers: number
  openStreams: number | null
  connections: number
  resources: Record<string, number>
  timers: number
  listeners: number
  heap: number
}
type Churned = { cycles: number; errors: number; firstError?: string; t0: number; t1: number }

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0)

/** What the server holds once the clients are gone (waiting up to 5 s for it to see them go). */
async function leftovers(l: Live): Promise<Left> {
  const deadline = Date.now() + 5000
  for (;;) {
    const left = await l.server.call<Left>('leftovers')
    if ((left.subscribers === 0 && left.connections === 0) || Date.now() > deadline) return left
    await sleep(100)
  }
}

export async function churn(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  await ctx.each('churn', async (l) => {
    await ctx.settle(l)
    const client = await ctx.clients.take(c.churnParallel)
    try {
      const args = { port: l.port, path: '/events', parallel: c.churnParallel }
      await client.call('churn', { ...args, ms: Math.min(300, c.churnMs) }, 60_000)
      const before = await leftovers(l)
      // Timers are counted from here: those created by the churn and still armed after it.
      await l.server.call('track-timers', { on: true })
      const run = await client.call<Churned>(
        'churn',
        { ...args, ms: c.churnMs },
        c.churnMs + 60_000,
      )
      const after = await leftovers(l)
      await l.server.call('track-timers', { on: false })
      if (run.cycles === 0) throw new Error(`no churn cycle completed: ${run.firstError}`)
      const name = l.target.name
      r.set('churn', 'rate', name, rep, run.cycles / ((run.t1 - run.t0) / 1e9))
      r.set('churn', 'errors', name, rep, run.errors)
      r.set('churn', 'streamsLeft', name, rep, after.subscribers)
      if (after.openStreams !== null)
        r.set('churn', 'openStreamsLeft', name, rep, after.openStreams)
      r.set('churn', 'connectionsLeft', name, rep, after.connections)
      r.set('churn', 'handlesLeft', name, rep, sum(after.resources) - sum(before.resources))
      r.set('churn', 'timersLeft', name, rep, after.timers)
      r.set('churn', 'listenersLeft', name, rep, after.listeners - before.listeners)
      r.set('churn', 'heapPerCycle', name, rep, (after.heap - before.heap) / run.cycles)
      r.note('churn', 'resources', name, rep, after.resources)
      if (run.firstError !== undefined) r.note('churn', 'firstError', name, rep, run.firstError)
    } finally {
      ctx.clients.release(client, c.churnParallel)
    }
  })
}
