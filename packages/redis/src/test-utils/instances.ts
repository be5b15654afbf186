/**
 * Drives `instance.ts` from a test: each instance is a real child process (its own event
 * loop, its own Redis connections) on a free port, read over real HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SseReader } from '../../../core/src/test-utils/index.js'

/** packages/redis: tsx reads its tsconfig.json there, whose `paths` map @ssekit/* to sources. */
const PACKAGE = fileURLToPath(new URL('../../', import.meta.url))

export type AdapterName = 'express' | 'fastify' | 'hono'

/** The wall clock in ms with sub-millisecond precision, as `instance.ts` stamps events. */
export const wallClock = (): number => performance.timeOrigin + performance.now()

export class Instance {
  /** Everything the child wrote to stderr (errors its store reported). */
  stderr = ''
  readonly exited: Promise<void>

  private constructor(
    readonly adapter: AdapterName,
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => child.once('exit', () => resolve()))
  }

  /** Starts `instance.ts` on `adapter`; resolves once it listens. */
  static async start(adapter: AdapterName, redisUrl: string, prefix: string): Promise<Instance> {
    if (!existsSync(`${PACKAGE}node_modules/tsx`)) {
      throw new Error(
        'tsx is not installed in packages/redis (a devDependency that runs instance.ts in a child process): run pnpm install',
      )
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/test-utils/instance.ts'], {
      cwd: PACKAGE,
      env: {
        ...process.env,
        ADAPTER: adapter,
        REDIS_URL: redisUrl,
        PREFIX: prefix,
        TSX_TSCONFIG_PATH: `${PACKAGE}tsconfig.json`,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stderr = ''
    const onErr = (chunk: Buffer) => {
      stderr += chunk
    }
    child.stderr!.on('data', onErr)
    const port = await new Promise<number>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`the ${adapter} instance did not listen within 30 s:\n${stderr}`))
      }, 30_000)
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk
        const line = out.split('\n')[0]!
        if (out.includes('\n')) {
          clearTimeout(timer)
          resolve((JSON.parse(line) as { port: number }).port)
        }
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`the ${adapter} instance exited (${code ?? signal}):\n${stderr}`))
      })
    })
    const instance = new Instance(adapter, child, port)
    child.stderr!.off('data', onErr)
    instance.stderr = stderr
    child.stderr!.on('data', (chunk: Buffer) => {
      instance.stderr += chunk
    })
    child.stdout!.resume()
    return instance
  }

  get pid(): number {
    return this.child.pid!
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`
  }

  /** POSTs `body` as JSON (or nothing); resolves to the JSON answer, rejects on an error status. */
  async post<T = unknown>(path: string, body?: unknown): Promise<T> {
    const response = await fetch(this.url(path), {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    if (!response.ok) {
      throw new Error(`POST ${path} on ${this.adapter}: ${response.status} ${text}`)
    }
    return JSON.parse(text) as T
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.child.kill(signal)
    await this.exited
  }

  /** Stops the instance (SIGTERM, SIGKILL after 5 s). Safe to call twice. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await this.kill('SIGTERM')
    clearTimeout(timer)
  }
}

/** An SSE reader that also keeps when each event was parsed (see {@link wallClock}). */
export class TimedReader extends SseReader {
  readonly times: number[] = []

  override feed(text: string): void {
    super.feed(text)
    const at = wallClock()
    while (this.times.length < this.events.length) this.times.push(at)
  }

  /** The ids of the events read so far. */
  get ids(): string[] {
    return this.events.map((e) => e.id!)
  }
}

export interface SseClient {
  response: Response
  reader: TimedReader
  /** Goes away (aborts the request) and waits for the reader to stop. */
  abort(): Promise<void>
}

/** GETs an event stream, sending `lastEventId` as Last-Event-ID; resolves on the headers. */
export async function openSse(url: string, lastEventId?: string): Promise<SseClient> {
  const controller = new AbortController()
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId
  const response = await fetch(url, { headers, signal: controller.signal })
  if (response.body === null) throw new Error(`no body in the response to ${url}`)
  const reader = new TimedReader(response.body)
  return {
    response,
    reader,
    async abort() {
      controller.abort()
      await reader.finished
    },
  }
}
