/**
 * A target's server process: `server.ts <file>`. Driven by the orchestrator over IPC, so
 * that nothing but the target itself runs on this event loop while it is measured. It runs
 * with `--expose-gc`, for the heap and churn reports.
 */
import { Socket } from 'node:net'
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises'
import { installTimerWrappers, liveTimers, trackTimers } from './live-timers.js'
import { type Hooks, now, type Running, type Start } from './shared.js'

type Command =
  | { id: number; cmd: 'count' }
  | { id: number; cmd: 'publish' }
  | { id: number; cmd: 'burst'; count: number; maxMs: number }
  | { id: number; cmd: 'schedule'; hz: number; count: number; graceMs: number }
  | { id?: number; cmd: 'burst-tick'; count: number; quiet?: boolean }
  | { id: number; cmd: 'last-burst' }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'mem'; gc: boolean }
  | { id: number; cmd: 'leftovers' }
  | { id: number; cmd: 'info' }
  | { id: number; cmd: 'count-writes'; on: boolean }
  | { id: number; cmd: 'track-timers'; on: boolean }
  | { id: number; cmd: 'exit' }

const send = (message: object) => process.send!(message)

const cpu = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const gc = (globalThis as { gc?: () => void }).gc
async function collect(): Promise<void> {
  if (gc === undefined) throw new Error('the server process needs --expose-gc')
  // Twice, with a turn between: what the first frees can hold finalizers and weak callbacks.
  gc()
  await tick()
  gc()
}

const hooks: Hooks = {
  streamStarted: () => send({ type: 'stream-started', t: now(), cpu: cpu() }),
}

installTimerWrappers()
const file = process.argv[2]!
const { start } = (await import(`./targets/${file}`)) as { start: Start }
const running: Running = await start(hooks)

let lastBurst: object = {}

/**
 * Fallback for the burst's write count when strace is not there: calls of
 * `net.Socket#_writeGeneric`, one per write or writev the socket asks libuv for (`_write`
 * and `_writev` both go through it, so wrapping `_writev` as well would count twice).
 */
const proto = Socket.prototype as unknown as Record<string, (...args: unknown[]) => unknown>
const writeGeneric = proto._writeGeneric!
let writes = 0
function countWrites(on: boolean): void {
  writes = 0
  proto._writeGeneric = on
    ? function (this: unknown, ...args: unknown[]) {
        writes++
        return writeGeneric.apply(this, args)
      }
    : writeGeneric
}

function listeners(): number {
  let n = 0
  for (const emitter of [process, running.server]) {
    for (const name of emitter.eventNames()) n += emitter.listenerCount(name)
  }
  return n
}

async function leftovers(): Promise<object> {
  const resources: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1
  const connections = await new Promise<number>((resolve, reject) =>
    running.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
  )
  await collect()
  const m = process.memoryUsage()
  return {
    subscribers: running.subscribers(),
    openStreams: running.openStreams?.() ?? null,
    connections,
    resources,
    timers: liveTimers(),
    listeners: listeners(),
    heap: m.heapUsed + m.arrayBuffers,
  }
}

/**
 * Publishes `count` events on a fixed schedule, `hz` a second, each at its due time from
 * the first; one that comes due while the process is busy goes out as soon as it can, but
 * none later than `graceMs` after the last one was due: those are never published (a
 * server that far behind has not kept the schedule, and catching up would take forever).
 */
async function schedule(hz: number, count: number, graceMs: number): Promise<object> {
  const interval = 1e9 / hz
  const start = now() + 1e6
  const end = start + (count - 1) * interval + graceMs * 1e6
  const t0s: number[] = []
  let lagMax = 0
  for (let k = 0; k < count; k++) {
    const due = start + k * interval
    const wait = due - now()
    if (wait > 1e6) await sleep(wait / 1e6)
    else await tick()
    const t = now()
    if (t > end) break
    lagMax = Math.max(lagMax, t - due)
    running.publish()
    t0s.push(t)
  }
  return { start, end, t0s, lagMax }
}

async function handle(m: Command): Promise<object | undefined> {
  switch (m.cmd) {
    case 'count':
      return { n: running.subscribers() }
    case 'publish': {
      const t0 = now()
      running.publish()
      const t1 = now()
      return { t0, t1 }
    }
    case 'burst': {
      // A sustained broadcast: one publish per event-loop turn, so that the sockets drain
      // between publishes as they would with events arriving from I/O. Capped in time, so
      // that a slow target does not stretch the whole run.
      const t0 = now()
      const deadline = t0 + m.maxMs * 1e6
      let published = 0
      while (published < m.count && (published < 20 || now() < deadline)) {
        running.publish()
        published++
        await tick()
      }
      return { t0, t1: now(), published }
    }
    case 'schedule':
      return schedule(m.hz, m.count, m.graceMs)
    case 'burst-tick': {
      // `count` publishes in one synchronous run: one tick of the event loop.
      const cpu0 = cpu()
      const t0 = now()
      for (let i = 0; i < m.count; i++) running.publish()
      const t1 = now()
      lastBurst = { t0, t1, cpu0 }
      // Quiet: no answer now, so that no IPC write falls inside a traced window.
      return m.quiet === true ? undefined : lastBurst
    }
    case 'last-burst':
      return lastBurst
    case 'cpu':
      return { cpu: cpu(), t: now() }
    case 'mem': {
      if (m.gc) await collect()
      const { heapUsed, arrayBuffers, external, rss } = process.memoryUsage()
      return { heapUsed, arrayBuffers, external, rss }
    }
    case 'leftovers':
      return leftovers()
    case 'info':
      return { pid: process.pid, channelFd: Number(process.env.NODE_CHANNEL_FD) }
    case 'track-timers':
      trackTimers(m.on)
      return {}
    case 'count-writes': {
      const counted = writes
      countWrites(m.on)
      return { writes: counted }
    }
    case 'exit':
      process.exit(0)
  }
}

process.on('message', async (m: Command) => {
  try {
    const answer = await handle(m)
    if (answer !== undefined && m.id !== undefined) send({ id: m.id, ...answer })
  } catch (error) {
    if (m.id !== undefined) send({ id: m.id, error: String((error as Error)?.stack ?? error) })
  }
})

// The orchestrator gone (killed, crashed): go too, rather than linger with open sockets.
process.on('disconnect', () => process.exit(0))

send({ type: 'ready', port: running.port })
