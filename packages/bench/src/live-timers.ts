/**
 * Counts the timers a server process's libraries still have armed, unref'd ones included:
 * `process.getActiveResourcesInfo()` lists only the timers that keep the process alive,
 * and a library's heartbeat timer is usually unref'd. Installed in the server process
 * before the target loads, it wraps the global and `node:timers` setTimeout/setInterval
 * (Node's own http internals do not go through them); it records timers only between
 * `trackTimers(true)` and `trackTimers(false)` (the churn scenario), and otherwise costs
 * a function call and a test.
 */
import { syncBuiltinESMExports } from 'node:module'
import timers from 'node:timers'
import { promisify } from 'node:util'

type Timer = NodeJS.Timeout & { _destroyed?: boolean }

const live = new Set<Timer>()
let added = 0
let tracking = false

/** A Node timer is `_destroyed` once cleared, or once fired if it does not repeat. */
function sweep(): void {
  for (const t of live) if (t._destroyed === true) live.delete(t)
}

function wrap<F extends (...args: never[]) => NodeJS.Timeout>(original: F): F {
  const wrapped = function (this: unknown, ...args: Parameters<F>) {
    const timer = original.apply(this, args) as Timer
    if (tracking) {
      live.add(timer)
      // Sweep now and then, so that fired timers are not kept alive by this Set.
      if (++added % 1024 === 0) sweep()
    }
    return timer
  } as unknown as F
  const custom = (original as unknown as Record<symbol, unknown>)[promisify.custom]
  if (custom !== undefined) Object.assign(wrapped, { [promisify.custom]: custom })
  return wrapped
}

export function installTimerWrappers(): void {
  globalThis.setTimeout = wrap(globalThis.setTimeout)
  globalThis.setInterval = wrap(globalThis.setInterval)
  timers.setTimeout = globalThis.setTimeout
  timers.setInterval = globalThis.setInterval
  syncBuiltinESMExports()
}

/** Starts recording the timers created from now on, or stops and forgets them. */
export function trackTimers(on: boolean): void {
  tracking = on
  if (!on) live.clear()
}

/** Timers created (while tracking) through setTimeout/setInterval that are still armed. */
export function liveTimers(): number {
  sweep()
  return live.size
}
