/** A child process driven by request/response messages over IPC. */
import { type ChildProcess, fork } from 'node:child_process'

type Message = { id?: number; type?: string; error?: string; [key: string]: unknown }

/** Every process the bench started (servers, clients, strace): none may outlive the run. */
export const spawned: number[] = []

export class Proc {
  readonly child: ChildProcess
  #next = 1
  readonly #pending = new Map<
    number,
    { resolve: (m: Message) => void; reject: (e: Error) => void }
  >()
  readonly #waiting = new Map<string, ((m: Message) => void)[]>()
  readonly #exited: Promise<number | null>

  readonly #name: string

  constructor(file: string, args: string[] = [], execArgv: string[] = []) {
    this.#name = `${file} ${args.join(' ')}`.trim()
    this.child = fork(new URL(file, import.meta.url), args, {
      stdio: 'inherit',
      execArgv: [...process.execArgv, ...execArgv],
    })
    if (this.child.pid !== undefined) spawned.push(this.child.pid)
    this.child.on('message', (m: Message) => {
      if (m.id !== undefined) {
        const pending = this.#pending.get(m.id)
        this.#pending.delete(m.id)
        if (m.error !== undefined) pending?.reject(new Error(m.error))
        else pending?.resolve(m)
      } else if (m.type !== undefined) {
        const list = this.#waiting.get(m.type)
        list?.shift()?.(m)
      }
    })
    this.#exited = new Promise((resolve) => this.child.once('exit', resolve))
    // A child that dies fails what was asked of it at once, not at the timeout.
    void this.#exited.then((code) => {
      for (const [id, { reject }] of this.#pending) {
        this.#pending.delete(id)
        reject(new Error(`${file} ${args.join(' ')} exited (${code}) before answering`))
      }
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** Sends a command; resolves with its answer, rejects after `timeoutMs`. */
  call<T = Message>(cmd: string, extra: object = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`${cmd} got no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m as T)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      if (!this.child.connected) {
        this.#pending.delete(id)
        clearTimeout(timer)
        reject(new Error(`${cmd}: the process has exited`))
        return
      }
      this.child.send({ id, cmd, ...extra })
    })
  }

  /** Sends a command that gets no answer. */
  tell(cmd: string, extra: object = {}): void {
    if (this.child.connected) this.child.send({ cmd, ...extra })
  }

  /** The next message of `type` the child sends of its own accord. */
  next<T = Message>(type: string, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const list = this.#waiting.get(type) ?? []
      this.#waiting.set(type, list)
      const waiter = (m: Message) => {
        clearTimeout(timer)
        resolve(m as T)
      }
      const timer = setTimeout(() => {
        list.splice(list.indexOf(waiter), 1)
        reject(new Error(`no "${type}" message within ${timeoutMs} ms`))
      }, timeoutMs)
      list.push(waiter)
      // A child that dies (a server that cannot start) fails the wait at once.
      void this.#exited.then((code) => {
        const at = list.indexOf(waiter)
        if (at === -1) return
        list.splice(at, 1)
        clearTimeout(timer)
        reject(new Error(`${this.#name} exited (${code}) before sending "${type}"`))
      })
    })
  }

  /** Ends the child: asks it to exit, then kills it if it has not within a second. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    if (this.child.connected) this.child.send({ id: 0, cmd: 'exit' })
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000)
    await this.#exited
    clearTimeout(timer)
  }
}
