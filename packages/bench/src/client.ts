/**
 * The client process: opens raw TCP connections with a plain GET and counts complete event
 * frames on each, so that no client work runs on a server's event loop. Connections come
 * in groups (one per target server); for each group it records when the k-th event has
 * reached every connection, on a monotonic clock that all processes of the machine share.
 *
 * An event is counted at the blank line ("\n\n") that ends a frame with a "data:" field;
 * comments (heartbeats, keep-alives) have none. Chunked transfer framing and the response
 * head never contain "\n\n". The body is not otherwise parsed: this costs the same
 * whatever server sent it.
 */
import { connect, type Socket } from 'node:net'
import { now } from './shared.js'

type Command =
  | { id: number; cmd: 'connect'; group: string; port: number; path: string; n: number }
  | { id: number; cmd: 'await'; group: string; round: number }
  | { id: number; cmd: 'status'; group: string }
  | { id: number; cmd: 'close'; group: string }

const CR = 0x0d
const LF = 0x0a
const BLANK = Buffer.from('\n\n')
const DATA = Buffer.from('data:')
const OK = Buffer.from('HTTP/1.1 200')

class Conn {
  count = 0
  /** The bytes after the last blank line: a frame split between two reads. */
  rest: Buffer | undefined = undefined
  started = false
  closing = false
  constructor(
    readonly group: Group,
    readonly socket: Socket,
  ) {}

  /** Events completed by this read. */
  frames(chunk: Buffer): number {
    const buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk])
    let n = 0
    let start = 0
    let data = buf.indexOf(DATA)
    for (let end = buf.indexOf(BLANK); end !== -1; end = buf.indexOf(BLANK, start)) {
      if (data !== -1 && data < start) data = buf.indexOf(DATA, start)
      if (data !== -1 && data < end) n++
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
    let t = 0
    for (let k = from + 1; k <= c.count; k++) {
      const r = (this.reached[k] ?? 0) + 1
      this.reached[k] = r
      if (r === this.expected) {
        if (t === 0) t = now()
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
      const c = new Conn(this, socket)
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

const groups = new Map<string, Group>()
const send = (message: object) => process.send!(message)

process.on('message', async (m: Command) => {
  switch (m.cmd) {
    case 'connect': {
      const group = new Group(m.n)
      groups.set(m.group, group)
      // 100 connects at a time keeps well inside the listen backlog.
      for (let i = 0; i < m.n; i += 100) {
        const batch = Math.min(100, m.n - i)
        const opened = await Promise.all(
          Array.from({ length: batch }, () => group.open(m.port, m.path)),
        )
        group.conns.push(...opened)
      }
      send({ id: m.id })
      break
    }
    case 'await': {
      const group = groups.get(m.group)!
      const t = group.doneAt[m.round]
      if (t !== undefined) send({ id: m.id, t })
      else group.waiters.set(m.round, (t) => send({ id: m.id, t }))
      break
    }
    case 'status': {
      const group = groups.get(m.group)!
      let min = Number.POSITIVE_INFINITY
      let max = 0
      for (const c of group.conns) {
        min = Math.min(min, c.count)
        max = Math.max(max, c.count)
      }
      const { dropped, badStatus } = group
      send({ id: m.id, conns: group.conns.length, dropped, badStatus, min, max })
      break
    }
    case 'close': {
      for (const c of groups.get(m.group)?.conns ?? []) {
        c.closing = true
        c.socket.destroy()
      }
      groups.delete(m.group)
      send({ id: m.id })
      break
    }
  }
})

send({ type: 'ready' })
