/**
 * Heap per open idle connection: `heapWarm` streams first (so that what the first ones
 * allocate once is not counted), a forced GC, then `heapClients` more and a GC again:
 * ((heapUsed + arrayBuffers) after − before) ÷ heapClients. Every target at once: each
 * measures its own process.
 */
import type { Ctx } from '../fleet.js'

type Mem = { heapUsed: number; arrayBuffers: number; external: number; rss: number }
const held = (m: Mem) => m.heapUsed + m.arrayBuffers

export async function heap(ctx: Ctx): Promise<void> {
  const { config: c, results: r, rep } = ctx
  await ctx.all('heap', async (l) => {
    await ctx.join(l, 'heap warm-up', c.heapWarm)
    const before = await l.server.call<Mem>('mem', { gc: true })
    await ctx.join(l, 'heap', c.heapClients)
    const after = await l.server.call<Mem>('mem', { gc: true })
    r.set('heap', 'bytesPerConn', l.target.name, rep, (held(after) - held(before)) / c.heapClients)
    r.set('heap', 'rssPerConn', l.target.name, rep, (after.rss - before.rss) / c.heapClients)
    await ctx.closeAll(l)
  })
  await ctx.clients.trim()
}
