/**
 * The broadcast audience: `config.clients` clients on `/events` of every target, joined and
 * warmed up once, shared by the broadcast and burst scenarios of a repetition.
 */
import { type Ctx, type Group, type Live, round } from '../fleet.js'

// Both halves of a measurement run on the same clock: hrtime in nanoseconds.
export type Timed = { t: number }
export type Published = { t0: number; t1: number }
export type Burst = Published & { published: number }
export type Cpu = { cpu: number; t: number }

const LABEL = 'audience'

export const audienceOf = (l: Live): Group | undefined =>
  [...l.groups].find((g) => g.name === `${l.target.name} ${LABEL}`)

/** The audience of `l`, joined and warmed up (150 broadcasts) if it is not there yet. */
export async function audience(ctx: Ctx, l: Live): Promise<Group> {
  const found = audienceOf(l)
  if (found !== undefined) return found
  const g = await ctx.join(l, LABEL, ctx.config.clients)
  const warm = await l.server.call<Burst>('burst', {
    count: ctx.config.warmup,
    maxMs: ctx.config.burstMs,
  })
  l.published += warm.published
  await g.client.call('await', { group: g.name, round: round(g) }, 60_000)
  return g
}

/** Checks that every client of `g` has every event sent so far, and no more. */
export async function checkDelivered(g: Group): Promise<void> {
  const status = await g.client.call<{
    dropped: number
    badStatus: number
    min: number
    max: number
  }>('status', { group: g.name })
  const want = round(g)
  if (status.dropped > 0 || status.badStatus > 0 || status.min !== want || status.max !== want) {
    throw new Error(
      `delivery check failed: ${JSON.stringify(status)}, expected ${want} events each`,
    )
  }
}

/** Closes the audiences at the end of the scenarios that share them. */
export async function dismiss(ctx: Ctx): Promise<void> {
  for (const l of ctx.live) {
    const g = audienceOf(l)
    if (g !== undefined) await ctx.close(g)
  }
}
