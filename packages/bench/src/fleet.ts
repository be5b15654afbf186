/**
 * The processes of a repetition: one server per target (alive for the whole repetition,
 * restarted after a scenario fails on it) and a pool of client processes, each holding as
 * many connections as its file-descriptor limit allows.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config, Scenario } from './config.js'
import { Proc } from './proc.js'
import type { Results } from './results.js'
import { runsIn, type TargetInfo } from './targets.js'

/** A target's server process. */
export interface Live {
  target: TargetInfo
  server: Proc
  port: number
  /** Events published since the server started: every `/events` client gets each. */
  published: number
  /** Client groups connected to it now. */
  groups: Set<Group>
}

/** Connections of one client process to one server, opened together. */
export interface Group {
  name: string
  live: Live
  client: Proc
  n: number
  /** `live.published` when the group joined: its k-th event is publish number base+k. */
  base: number
}

/** Events a group has been sent so far. */
export const round = (g: Group) => g.live.published - g.base

const SERVER = './server.ts'

async function spawnServer(target: TargetInfo): Promise<{ server: Proc; port: number }> {
  const prof = process.env.BENCH_PROF
  const server = new Proc(
    SERVER,
    [target.file],
    [
      '--expose-gc',
      // One profile per thread (tsx's loader runs in a worker): pick the largest.
      ...(prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}/${target.file}`]),
    ],
  )
  try {
    const { port } = await server.next<{ port: number }>('ready', 60_000)
    return { server, port }
  } catch (error) {
    await server.stop()
    throw error
  }
}

export async function startServer(target: TargetInfo): Promise<Live> {
  const { server, port } = await spawnServer(target)
  return { target, server, port, published: 0, groups: new Set() }
}

/** Client processes, started as connections need room. */
export class ClientPool {
  readonly #procs: { proc: Proc; used: number; ready: Promise<unknown> }[] = []
  readonly #capacity: number

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** A client process with room for `n` more connections, reserved for them. */
  async take(n: number): Promise<Proc> {
    if (n > this.#capacity) {
      throw new Error(`${n} connections do not fit in one client process (${this.#capacity})`)
    }
    let slot = this.#procs.find((p) => p.used + n <= this.#capacity)
    if (slot === undefined) {
      const proc = new Proc('./client.ts')
      slot = { proc, used: 0, ready: proc.next('ready', 60_000) }
      this.#procs.push(slot)
    }
    // Reserved before waiting, so that a concurrent take() does not pick the same room.
    slot.used += n
    await slot.ready
    return slot.proc
  }

  release(proc: Proc, n: number): void {
    const slot = this.#procs.find((p) => p.proc === proc)
    if (slot !== undefined) slot.used -= n
  }

  /** Stops the client processes that hold nothing, but one. */
  async trim(): Promise<void> {
    const idle = this.#procs.filter((p) => p.used === 0).slice(1)
    for (const slot of idle) this.#procs.splice(this.#procs.indexOf(slot), 1)
    await Promise.all(idle.map((slot) => slot.proc.stop()))
  }

  async stop(): Promise<void> {
    await Promise.all(this.#procs.splice(0).map((slot) => slot.proc.stop()))
  }
}

/** What a scenario gets: the live servers of this repetition and ways to drive them. */
export class Ctx {
  constructor(
    readonly config: Config,
    readonly results: Results,
    readonly rep: number,
    readonly clients: ClientPool,
    readonly live: Live[],
  ) {}

  /** `/events` clients a server should count now. */
  expected(l: Live): number {
    let n = 0
    for (const g of l.groups) n += g.n
    return n
  }

  /**
   * Connects `n` clients to `/events` and waits until the server counts every one; on
   * `client` if given (the caller reserved room in it), else where the pool has room.
   */
  async join(l: Live, label: string, n: number, client?: Proc): Promise<Group> {
    client ??= await this.clients.take(n)
    const g: Group = { name: `${l.target.name} ${label}`, live: l, client, n, base: l.published }
    l.groups.add(g)
    await client.call(
      'connect',
      { group: g.name, port: l.port, path: '/events', n },
      60_000 + n * 10,
    )
    await this.settle(l, 30_000 + n * 5)
    return g
  }

  /** Waits until the server counts exactly the clients connected to it. */
  async settle(l: Live, timeoutMs = 10_000): Promise<void> {
    const want = this.expected(l)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const { n } = await l.server.call<{ n: number }>('count')
      if (n === want) return
      if (Date.now() > deadline) throw new Error(`${n} clients subscribed, expected ${want}`)
      await sleep(10)
    }
  }

  async close(g: Group): Promise<void> {
    if (!g.live.groups.delete(g)) return
    await g.client.call('close', { group: g.name }).catch(() => {})
    this.clients.release(g.client, g.n)
  }

  /** Closes every group of a server and waits until it has seen them go. */
  async closeAll(l: Live): Promise<void> {
    for (const g of [...l.groups]) await this.close(g)
    await this.settle(l)
  }

  /** After a failure: drops the target's clients and gives it a fresh server process. */
  async reset(l: Live): Promise<void> {
    for (const g of [...l.groups]) await this.close(g)
    await l.server.stop()
    const fresh = await spawnServer(l.target)
    l.server = fresh.server
    l.port = fresh.port
    l.published = 0
  }

  /** Targets that failed a scenario in this repetition: its later steps skip them. */
  readonly #failed = new Set<string>()

  async #guard(scenario: Scenario, l: Live, step: (l: Live) => Promise<void>): Promise<void> {
    if (!runsIn(l.target, scenario) || this.#failed.has(`${scenario}|${l.target.name}`)) return
    try {
      await step(l)
    } catch (error) {
      this.#failed.add(`${scenario}|${l.target.name}`)
      this.results.fail(scenario, l.target.name, String((error as Error)?.message ?? error))
      await this.reset(l).catch((e) => this.results.fail(scenario, l.target.name, String(e)))
    }
  }

  /** Runs `step` on each server in turn; a failure is recorded and that server restarted. */
  async each(scenario: Scenario, step: (l: Live) => Promise<void>): Promise<void> {
    for (const l of this.live) await this.#guard(scenario, l, step)
  }

  /** Runs `step` on every server at once. */
  async all(scenario: Scenario, step: (l: Live) => Promise<void>): Promise<void> {
    await Promise.all(this.live.map((l) => this.#guard(scenario, l, step)))
  }
}
