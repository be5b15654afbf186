/**
 * A real `redis-server` for the tests, on a free loopback port, in a directory of its own.
 * It can be stopped (the port stays reserved for its restart), killed, restarted with its
 * append-only file, or restarted empty. A missing binary fails with the line to install it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { freePort } from '../../../core/src/test-utils/index.js'

export { freePort }

function binary(): string {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/opt/homebrew/bin', '/usr/sbin']) {
    const path = join(dir, 'redis-server')
    if (existsSync(path)) return path
  }
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error(
      'redis-server is not installed; the @ssekit/redis tests run a real one. Run ./scripts/setup.sh, or: apt-get install -y redis-server (brew install redis on macOS).',
    )
  }
}

export interface RedisServerOptions {
  /** Keep an append-only file, fsynced on every write, so that a restart keeps every acknowledged write. */
  appendOnly?: boolean
}

export class RedisServer {
  readonly port: number
  readonly dir: string
  readonly #options: RedisServerOptions
  #child: ChildProcess | undefined

  private constructor(port: number, dir: string, options: RedisServerOptions) {
    this.port = port
    this.dir = dir
    this.#options = options
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(
      await freePort(),
      mkdtempSync(join(tmpdir(), 'ssekit-redis-')),
      options,
    )
    await server.#spawn()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Stops the server (SIGKILL: nothing flushed beyond what appendfsync already wrote). */
  async stop(): Promise<void> {
    const child = this.#child
    this.#child = undefined
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  /** Starts it again on the same port: with its data (append-only file), or `empty`. */
  async restart(options: { empty?: boolean } = {}): Promise<void> {
    await this.stop()
    if (options.empty === true) {
      rmSync(this.dir, { recursive: true, force: true })
      execFileSync('mkdir', ['-p', this.dir])
    }
    await this.#spawn()
  }

  async close(): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
  }

  async #spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.#options.appendOnly === true ? 'yes' : 'no',
      '--appendfsync',
      'always',
      '--protected-mode',
      'no',
    ]
    const child = spawn(binary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    let output = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start within 10 s:\n${output}`)),
        10_000,
      )
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          child.stdout?.off('data', onData)
          resolve()
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}:\n${output}`))
      })
    })
    // Keep reading so that the pipe never fills up.
    child.stdout?.resume()
    child.stderr?.resume()
  }
}

/**
 * A TCP proxy in front of Redis that can freeze: it keeps both sockets open and moves no
 * byte in either direction (what it holds stays queued, as TCP would keep it), as a
 * half-dead connection does: no error, no data.
 */
export class FreezingProxy {
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  #frozen = false
  port = 0

  constructor(readonly target: number) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => this.#sockets.delete(s))
        if (this.#frozen) s.pause()
      }
      client.pipe(upstream)
      upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
  }

  get frozen(): boolean {
    return this.#frozen
  }

  set frozen(value: boolean) {
    this.#frozen = value
    for (const s of this.#sockets) {
      if (value) s.pause()
      else s.resume()
    }
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as net.AddressInfo).port
    return `redis://127.0.0.1:${this.port}`
  }

  /** Connections open through the proxy right now (each has two sockets). */
  get connections(): number {
    return this.#sockets.size / 2
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
