/**
 * File descriptors: one per connection on each side. The orchestrator raises its soft limit
 * to the hard one (`prlimit`) before it forks anything, so that every server and client
 * process inherits it; a client process then holds at most `capacity()` connections and
 * the pool starts another for more (10,000 clients and 10,000 server sockets do not fit
 * in one process under a hard limit of 20,000, and need not: they are in two).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

function nofile(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const [soft, hard] = (line?.match(/(\d+|unlimited)\s+(\d+|unlimited)/) ?? []).slice(1)
    const n = (v: string | undefined) => (v === 'unlimited' ? 1e7 : Number(v))
    if (soft === undefined || hard === undefined) return undefined
    return { soft: n(soft), hard: n(hard) }
  } catch {
    return undefined
  }
}

/** Raises the soft limit on open files to the hard limit; returns the soft limit now. */
export function raiseFdLimit(): number {
  const before = nofile()
  if (before === undefined) return 1024
  if (before.soft < before.hard) {
    spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`])
  }
  return nofile()?.soft ?? before.soft
}

/** Connections one client process may hold: its limit, less room for everything else. */
export function capacity(limit: number): number {
  return Math.max(100, limit - 1000)
}
