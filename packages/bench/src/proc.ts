/** A child process driven by request/response messages over IPC. */
import { type ChildProcess, fork } from 'node:child_process'

type Message = { id?: number; type?: string; [key: string]: unknown }

export class Proc {
  readonly child: ChildProcess
  #next = 1
  readonly #pending = new Map<number, (m: Message) => void>()
  readonly #waiting = new Map<string, ((m: Message) => void)[]>()
  readonly #exited: Promise<number | null>

  constructor(file: string, args: string[] = [], execArgv: string[] = []) {
    this.child = fork(new URL(file, import.meta.url), args, {
      stdio: 'inherit',
      execArgv: [...process.execArgv, ...execArgv],
    })
    this.child.on('message', (m: Message) => {
      if (m.id !== undefined) {
        this.#pending.get(m.id)?.(m)
        this.#pending.delete(m.id)
      } else if (m.type !== undefined) {
        const list = this.#waiting.get(m.type)
        list?.shift()?.(m)
      }
    })
    this.#exited = new Promise((resolve) => this.child.once('exit', resolve))
  }

  /** Sends a command; resolves with its answer, rejects after `timeoutMs`. */
  call<T = Message>(cmd: string, extra: object = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`${cmd} got no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, (m) => {
        clearTimeout(timer)
        resolve(m as T)
      })
      this.child.send({ id, cmd, ...extra })
    })
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
    })
  }

  /** Ends the child: asks it to exit, then kills it if it has not within a second. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.send({ id: 0, cmd: 'exit' })
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000)
    await this.#exited
    clearTimeout(timer)
  }
}
