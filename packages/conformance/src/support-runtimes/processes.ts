/**
 * Runs server scripts on other runtimes (Deno, workerd, Bun, another Node) as child
 * processes: bundles a script with esbuild, finds a runtime's binary in node_modules, starts
 * it, learns the port it listens on, keeps what it prints on stderr, and stops it. Also
 * measures first-event latency the same way for every runtime.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)

const source = (pkg: string) =>
  fileURLToPath(new URL(`../../../${pkg}/src/index.ts`, import.meta.url))

/** What to install when a runtime is missing: every one is a devDependency here. */
function missing(name: string, why?: unknown): Error {
  return new Error(
    `${name} is not installed: run \`pnpm install\` (${name} is a devDependency of packages/conformance)${
      why === undefined ? '' : `; ${(why as Error).message ?? String(why)}`
    }`,
  )
}

/**
 * The Deno binary of the `deno` npm package's platform package (`@deno/linux-x64-glibc`…),
 * not its `bin.cjs`: that runs Deno as its child, so stopping it would leave Deno running.
 */
export function denoBinary(): string {
  let fromDeno: NodeJS.Require
  try {
    fromDeno = createRequire(require.resolve('deno/package.json'))
  } catch (error) {
    throw missing('deno', error)
  }
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64'
  const target =
    process.platform === 'linux' ? `linux-${arch}-glibc` : `${process.platform}-${arch}`
  let dir: string
  try {
    dir = dirname(fromDeno.resolve(`@deno/${target}/package.json`))
  } catch (error) {
    throw missing(`deno (its platform package @deno/${target})`, error)
  }
  const exe = join(dir, process.platform === 'win32' ? 'deno.exe' : 'deno')
  if (!existsSync(exe)) throw missing('deno', `no binary at ${exe}`)
  return exe
}

/** The workerd binary and the version of its npm package. */
export function workerdBinary(): { path: string; version: string; compatibilityDate: string } {
  try {
    const workerd = require('workerd') as {
      default: string
      version: string
      compatibilityDate: string
    }
    if (!existsSync(workerd.default)) throw new Error(`no binary at ${workerd.default}`)
    return {
      path: workerd.default,
      version: workerd.version,
      compatibilityDate: workerd.compatibilityDate,
    }
  } catch (error) {
    throw missing('workerd', error)
  }
}

/** The Bun binary itself (node_modules/.bin/bun is a script that runs Bun as its child). */
export function bunBinary(): string {
  const exe = fileURLToPath(new URL('../../node_modules/bun/bin/bun.exe', import.meta.url))
  if (!existsSync(exe)) throw missing('bun')
  return exe
}

/** A temporary directory, removed by `remove()`. */
export interface TempDir {
  path: string
  remove(): void
}

export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/**
 * Bundles `entry` (a TypeScript server script importing the packages' sources) into one ESM
 * file `out`. On `neutral` nothing of Node is available: a runtime import of `node:` in the
 * code it reaches fails the build, so the bundle itself shows the Fetch path needs none.
 */
export async function bundle(
  entry: string,
  out: string,
  platform: 'neutral' | 'node',
): Promise<void> {
  let esbuild: typeof import('esbuild')
  try {
    esbuild = await import('esbuild')
  } catch (error) {
    throw missing('esbuild', error)
  }
  await esbuild.build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform,
    target: 'es2022',
    // Workers' and Deno's conditions first, then what any ESM package has.
    ...(platform === 'neutral'
      ? { conditions: ['workerd', 'worker', 'deno', 'import'], mainFields: ['module', 'main'] }
      : {}),
    alias: { '@ssekit/core': source('core'), '@ssekit/hono': source('hono') },
    logLevel: 'silent',
  })
}

/** A runtime running a server script, as a child process. */
export class RuntimeProcess {
  readonly child: ChildProcess
  /** Everything it printed on stderr so far. */
  stderr = ''
  /** Everything it printed on stdout after the line that gave its port. */
  stdout = ''
  readonly exited: Promise<number | null>

  private constructor(child: ChildProcess) {
    this.child = child
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString()
    })
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode)
      else child.once('exit', (code) => resolve(code))
    })
  }

  /**
   * Starts `command` and waits for the first JSON line it writes, on stdout or (`fd3`) on
   * descriptor 3, that has a `port`. Rejects with its stderr if it exits or stays silent.
   */
  static async start(
    name: string,
    command: string,
    args: string[],
    options: { portOn?: 'stdout' | 'fd3'; cwd?: string; timeoutMs?: number } = {},
  ): Promise<{ process: RuntimeProcess; info: { port: number; [key: string]: unknown } }> {
    const fd3 = options.portOn === 'fd3'
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: fd3 ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    })
    const running = new RuntimeProcess(child)
    const lines = createInterface({ input: (fd3 ? child.stdio[3] : child.stdout) as Readable })
    if (fd3) {
      child.stdout!.on('data', (chunk: Buffer) => {
        running.stdout += chunk.toString()
      })
    }
    const timeoutMs = options.timeoutMs ?? 30_000
    try {
      const info = await new Promise<{ port: number }>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`${name} printed no port within ${timeoutMs} ms: ${running.stderr}`)),
          timeoutMs,
        )
        const onLine = (line: string) => {
          let parsed: { port?: unknown } | undefined
          try {
            parsed = JSON.parse(line) as { port?: unknown }
          } catch {
            if (!fd3) running.stdout += `${line}\n`
            return
          }
          if (typeof parsed?.port !== 'number') return
          clearTimeout(timer)
          lines.off('line', onLine)
          if (!fd3) lines.on('line', (rest) => (running.stdout += `${rest}\n`))
          resolve(parsed as { port: number })
        }
        lines.on('line', onLine)
        child.once('error', (error) => {
          clearTimeout(timer)
          reject(error)
        })
        child.once('exit', (code) => {
          clearTimeout(timer)
          reject(new Error(`${name} exited with ${code}: ${running.stderr}`))
        })
      })
      return { process: running, info }
    } catch (error) {
      await running.stop()
      throw error
    }
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves once it exited. */
  async stop(graceMs = 5000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
      await this.exited
      clearTimeout(timer)
    }
    return this.exited
  }
}

/**
 * First-event latency as a client sees it: the time from `fetch()` to the read that brings
 * the first `data:` line, for `runs` requests in a row to an endpoint that sends one event
 * and closes. Each body is read to its end and must be exactly `expected`. Prints
 * `[measure] <runtime>: first event p50 X ms` and returns the median.
 */
export async function measureFirstEvent(
  runtime: string,
  url: string,
  expected: string,
  runs = 10,
): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    const response = await fetch(url, { headers: { accept: 'text/event-stream' } })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    let first: number | undefined
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
      if (first === undefined && /(^|\n)data:/.test(text)) first = performance.now()
    }
    text += decoder.decode()
    if (text !== expected || first === undefined) {
      throw new Error(`${runtime}: ${url} answered ${JSON.stringify(text)}`)
    }
    times.push(first - started)
  }
  times.sort((a, b) => a - b)
  const p50 = (times[Math.floor((runs - 1) / 2)]! + times[Math.ceil((runs - 1) / 2)]!) / 2
  console.log(`[measure] ${runtime}: first event p50 ${p50.toFixed(2)} ms`)
  return p50
}
