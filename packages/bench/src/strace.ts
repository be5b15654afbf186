/**
 * Counts the write syscalls a server process makes while `run` runs: strace attached to
 * every thread of it (`strace -f -e trace=write,writev -p <pid>`), each call logged with
 * its file descriptor, so that writes to client sockets are told apart from the rest (the
 * IPC channel, libuv's wake-ups on an eventfd). Without strace (or with BENCH_NO_STRACE=1),
 * the server counts calls of `net.Socket#_writeGeneric` instead: one per write or writev
 * it asks libuv for, without the kernel's view.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Proc, spawned } from './proc.js'

let counter: 'strace' | 'net.Socket writes' =
  process.env.BENCH_NO_STRACE !== '1' && spawnSync('strace', ['-V']).status === 0
    ? 'strace'
    : 'net.Socket writes'

/** How writes are counted: strace, or (not installed, or not allowed to attach) the fallback. */
export const writeCounter = () => counter

export interface Writes {
  /** Every write/writev call of the process. */
  total: number
  /** Those to a TCP socket (a client). */
  sockets: number
}

const CALL = /^\d+\s+(?:write|writev)\((\d+),/

export async function traceWrites(
  pid: number,
  channelFd: number,
  server: Proc,
  run: () => Promise<void>,
): Promise<Writes> {
  if (counter !== 'strace') {
    await server.call('count-writes', { on: true })
    await run()
    const { writes } = await server.call<{ writes: number }>('count-writes', { on: false })
    return { total: writes, sockets: writes }
  }
  const traced = await strace(pid, channelFd, run)
  if (traced !== undefined) return traced
  // strace is there but may not attach (ptrace forbidden): count the other way from now on.
  counter = 'net.Socket writes'
  return traceWrites(pid, channelFd, server, run)
}

/** `undefined` when strace could not attach (nothing was run then). */
async function strace(
  pid: number,
  channelFd: number,
  run: () => Promise<void>,
): Promise<Writes | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'ssekit-bench-strace-'))
  const out = join(dir, 'trace')
  const child = spawn(
    'strace',
    ['-f', '-e', 'trace=write,writev', '-e', 'signal=none', '-s', '0', '-o', out, '-p', `${pid}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  if (child.pid !== undefined) spawned.push(child.pid)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  try {
    let stderr = ''
    const attached = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000)
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        if (stderr.includes('attached')) {
          clearTimeout(timer)
          resolve(true)
        }
      })
      void exited.then(() => {
        clearTimeout(timer)
        resolve(false)
      })
    })
    if (!attached) {
      process.stderr.write(`strace could not attach, counting net.Socket writes: ${stderr}\n`)
      rmSync(dir, { recursive: true, force: true })
      return undefined
    }
    await run()
  } finally {
    child.kill('SIGINT')
    await exited
  }
  const perFd = new Map<number, number>()
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const fd = line.match(CALL)?.[1]
    if (fd !== undefined) perFd.set(Number(fd), (perFd.get(Number(fd)) ?? 0) + 1)
  }
  rmSync(dir, { recursive: true, force: true })
  let total = 0
  let sockets = 0
  for (const [fd, n] of perFd) {
    total += n
    let link = ''
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {}
    if (fd !== channelFd && link.startsWith('socket:')) sockets += n
  }
  return { total, sockets }
}
