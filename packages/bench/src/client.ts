/**
 * A client process: opens raw TCP connections with a plain GET and counts complete event
 * frames on each, so that no client work runs on a server's event loop. Connections come
 * in groups (one per target server and scenario); for each group it records when the k-th
 * event has reached every connection, on a monotonic clock that all processes of the
 * machine share, and, once `mark`ed, when each connection received each event.
 *
 * An event is counted at the blank line ("\n\n") that ends a frame with a "data:" field;
 * comments (heartbeats, keep-alives) have none, and are counted apart. Chunked transfer framing and the response
 * head never contain "\n\n". The body is not otherwise parsed: this costs the same
 * whatever server sent it.
 */
import { connect, type Socket } from 'node:net'
import { now } from './shared.js'
import { quantileSorted } from './stats.js'

type Command =
  | { id: number; cmd: 'connect'; group: string; port: number; path: string; n: number }
  | { id: number; cmd: 'await'; group: string; round: number }
  | { id: number; cmd: 'status'; group: string }
  | { id: number; cmd: 'close'; group: string }
  | { id: number; cmd: 'mark'; groups: string[] }
  | { id: number; cmd: 'latency'; groups: string[]; t0s: number[]; deadline: number }
  | { id: number; cmd: 'churn'; port: number; path: string; parallel: number; ms: number }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'exit' }

const CR = 0x0d
const LF = 0x0a
const BLANK = Buffer.from('\n\n')
const DATA = Buffer.from('data:')
const OK = Buffer.from('HTTP/1.1 200')
/** Connects in flight at once: well inside the servers' listen backlog (4096). */
const CONNECTS_IN_FLIGHT = 256

class Conn {
  count = 0
  /** Frames without a data field: comments, the libraries' heartbeats. */
  comments = 0
  /** Events this connection had when its group was marked: receipt times count from there. */
  base = 0
  /** The bytes after the last blank line: a frame split between two reads. */
  rest: Buffer | undefined = undefined
  started = false
  closing = false
  constructor(readonly socket: Socket) {}

  /** Events completed by this read. */
  frames(chunk: Buffer): number {
    const buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk])
    let n = 0
    let start = 0
    let data = buf.indexOf(DATA)
    for (let end = buf.indexOf(BLANK); end !== -1; end = buf.indexOf(BLANK, start)) {
      if (data !== -1 && data < start) data = buf.indexOf(DATA, start)
      if (data !== -1 && data < end) n++
      else this.comments++
      start = end + 2
    }
    // What usually follows the last frame is the CRLF that ends its HTTP chunk: no need
    // to carry that over.
    const left = buf.length - start
    const crlf = left === 2 && buf[start] === CR && buf[start + 1] === LF
    this.rest = left === 0 || crlf ? undefined : buf.subarray(start)
    return n
  }
}

class Group {
  readonly conns: Conn[] = []
  /** reached[k]: connections that have received at least k events. */
  readonly reached: number[] = []
  readonly doneAt: number[] = []
  readonly waiters = new Map<number, (t: number) => void>()
  /** Once marked: times[j] holds the receipt time of event base+j+1 on each connection. */
  times: number[][] | undefined = undefined
  dropped = 0
  badStatus = 0
  constructor(readonly expected: number) {}

  onData(c: Conn, buf: Buffer): void {
    if (!c.started) {
      c.started = true
      if (buf.compare(OK, 0, OK.length, 0, OK.length) !== 0) this.badStatus++
    }
    const n = c.frames(buf)
    if (n === 0) return
    const from = c.count
    c.count += n
    const t = now()
    if (this.times !== undefined) {
      for (let k = from + 1; k <= c.count; k++) {
        const j = k - c.base - 1
        if (j < 0) continue
        const times = this.times[j]
        if (times === undefined) this.times[j] = [t]
        else times.push(t)
      }
    }
    for (let k = from + 1; k <= c.count; k++) {
      const r = (this.reached[k] ?? 0) + 1
      this.reached[k] = r
      if (r === this.expected) {
        this.doneAt[k] = t
        const waiter = this.waiters.get(k)
        if (waiter !== undefined) {
          this.waiters.delete(k)
          waiter(t)
        }
      }
    }
  }

  open(port: number, path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' })
      const c = new Conn(socket)
      socket.on('data', (buf: Buffer) => this.onData(c, buf))
      socket.on('close', () => {
        if (!c.closing) this.dropped++
      })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.removeListener('error', reject)
        socket.on('error', () => {})
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
        resolve(c)
      })
    })
  }
}

/** Opens `n` connections, at most CONNECTS_IN_FLIGHT at a time. */
async function openAll(group: Group, port: number, path: string, n: number): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      group.conns.push(await group.open(port, path))
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, CONNECTS_IN_FLIGHT) }, worker))
}

/** Latency of every delivery since the groups were marked, against the publish times. */
function latency(groups: Group[], t0s: number[], deadline: number): object {
  let expected = 0
  for (const g of groups) expected += g.conns.length * t0s.length
  // Deliveries still missing stay at +∞, later than any: a quantile that falls on one is ∞.
  const all = new Float64Array(expected).fill(Number.POSITIVE_INFINITY)
  let delivered = 0
  let onTime = 0
  for (const g of groups) {
    for (let j = 0; j < t0s.length; j++) {
      for (const t of g.times?.[j] ?? []) {
        if (delivered < expected) all[delivered++] = t - t0s[j]!
        if (t <= deadline) onTime++
      }
    }
  }
  all.sort()
  const ms = (q: number) => quantileSorted(all, q) / 1e6
  const conns = groups.reduce((n, g) => n + g.conns.length, 0)
  return { conns, expected, delivered, onTime, p50: ms(0.5), p99: ms(0.99), max: ms(1) }
}

/**
 * Connect/disconnect cycles: each of `parallel` loops opens a connection, sends the GET,
 * waits for the first bytes of the answer (the response head), closes and starts again,
 * until `ms` have passed.
 */
async function churn(port: number, path: string, parallel: number, ms: number): Promise<object> {
  const t0 = now()
  const end = t0 + ms * 1e6
  let cycles = 0
  let errors = 0
  let firstError: string | undefined
  const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`
  const cycle = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' })
      const timer = setTimeout(() => fail(new Error('no response head within 5 s')), 5000)
      const fail = (error: Error) => {
        clearTimeout(timer)
        socket.destroy()
        reject(error)
      }
      socket.once('error', fail)
      socket.once('close', () => fail(new Error('closed before the response head')))
      socket.once('connect', () => socket.write(request))
      socket.once('data', (buf: Buffer) => {
        clearTimeout(timer)
        socket.removeAllListeners('close')
        socket.on('error', () => {})
        socket.destroy()
        if (buf.compare(OK, 0, OK.length, 0, OK.length) !== 0) reject(new Error('not a 200'))
        else resolve()
      })
    })
  const loop = async () => {
    while (now() < end) {
      try {
        await cycle()
        cycles++
      } catch (error) {
        errors++
        firstError ??= String((error as Error).message)
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, loop))
  return { cycles, errors, firstError, t0, t1: now() }
}

const groups = new Map<string, Group>()
const groupOf = (name: string) => {
  const g = groups.get(name)
  if (g === undefined) throw new Error(`no client group "${name}"`)
  return g
}
const send = (message: object) => process.send!(message)

async function handle(m: Command): Promise<object | undefined> {
  switch (m.cmd) {
    case 'connect': {
      const group = new Group(m.n)
      groups.set(m.group, group)
      await openAll(group, m.port, m.path, m.n)
      return {}
    }
    case 'await': {
      const group = groupOf(m.group)
      const t = group.doneAt[m.round]
      if (t !== undefined) return { t }
      return { t: await new Promise<number>((resolve) => group.waiters.set(m.round, resolve)) }
    }
    case 'status': {
      const group = groupOf(m.group)
      let min = Number.POSITIVE_INFINITY
      let max = 0
      let comments = 0
      for (const c of group.conns) {
        min = Math.min(min, c.count)
        max = Math.max(max, c.count)
        comments += c.comments
      }
      const { dropped, badStatus } = group
      return { conns: group.conns.length, dropped, badStatus, min, max, comments }
    }
    case 'close': {
      for (const c of groups.get(m.group)?.conns ?? []) {
        c.closing = true
        c.socket.destroy()
      }
      groups.delete(m.group)
      return {}
    }
    case 'mark':
      for (const g of m.groups.map(groupOf)) {
        g.times = []
        for (const c of g.conns) c.base = c.count
      }
      return {}
    case 'latency':
      return latency(m.groups.map(groupOf), m.t0s, m.deadline)
    case 'churn':
      return churn(m.port, m.path, m.parallel, m.ms)
    case 'cpu': {
      const { user, system } = process.cpuUsage()
      return { cpu: user + system, t: now() }
    }
    case 'exit':
      process.exit(0)
  }
}

process.on('message', async (m: Command) => {
  try {
    const answer = await handle(m)
    if (answer !== undefined) send({ id: m.id, ...answer })
  } catch (error) {
    send({ id: m.id, error: String((error as Error)?.message ?? error) })
  }
})

// The orchestrator gone (killed, crashed): go too, rather than linger with open sockets.
process.on('disconnect', () => process.exit(0))

send({ type: 'ready' })
