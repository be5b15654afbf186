import { createHash } from 'node:crypto'
import type { ManagedConnection } from './connection.js'

/** Runs Lua scripts by their SHA (EVALSHA), loading a script the server does not know. */
export class Scripts {
  readonly #connection: ManagedConnection
  readonly #shas = new Map<string, string>()

  constructor(connection: ManagedConnection) {
    this.#connection = connection
  }

  async run<T>(script: string, keys: string[], args: string[], what: string): Promise<T> {
    let sha = this.#shas.get(script)
    if (sha === undefined) {
      sha = createHash('sha1').update(script).digest('hex')
      this.#shas.set(script, sha)
    }
    const tail = [String(keys.length), ...keys, ...args]
    try {
      return await this.#connection.send<T>(['EVALSHA', sha, ...tail], what)
    } catch (error) {
      // A restarted (or flushed) Redis forgets scripts: send it once more, in full.
      if (!String((error as Error)?.message).includes('NOSCRIPT')) throw error
      return this.#connection.send<T>(['EVAL', script, ...tail], what)
    }
  }
}
