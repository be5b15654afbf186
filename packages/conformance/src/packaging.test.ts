/**
 * Installable as published: every public package is packed the way it is published
 * (`pnpm pack` replaces `workspace:^` with a real range), installed with npm from its
 * tarball into a fresh app outside the workspace, and each package README's TypeScript
 * snippets run there with plain `node`, as a user who pasted them would. The tarballs carry
 * dist/, so this needs `pnpm build` first; the frameworks come from the npm registry. The
 * @ssekit/redis snippet runs on a real `redis-server`, started here on a free port.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createParser } from 'eventsource-parser'
import ts from 'typescript'
import { afterAll, describe, expect, test } from 'vitest'
import { RedisServer } from '../../redis/src/test-utils/redis-server.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const PACKAGES = ['core', 'express', 'fastify', 'hono', 'redis', 'client'] as const
type Package = (typeof PACKAGES)[number]
/** What the READMEs' install lines add besides the @ssekit packages. */
const FRAMEWORKS = ['express', 'fastify', 'hono', '@hono/node-server']
/**
 * What the snippets import besides those, at the versions this workspace tests with: the
 * redis snippet's client (`redis`), and the validator of the typed-events snippet (`zod`).
 */
const DEV_DEPENDENCIES: Record<string, string> = JSON.parse(
  readFileSync(join(root, 'packages', 'conformance', 'package.json'), 'utf8'),
).devDependencies
const REDIS_CLIENT = DEV_DEPENDENCIES.redis!
const SNIPPET_IMPORTS = [`redis@${REDIS_CLIENT}`, `zod@${DEV_DEPENDENCIES.zod}`]

/** The bound on every wait: a port line, a frame, a child's exit. */
const WAIT_MS = 15_000

// One work directory outside the workspace: the tarballs, then the app that installs them.
const work = mkdtempSync(join(tmpdir(), 'ssekit-packaging-'))
const children = new Set<ChildProcess>()

let redisStarting: Promise<RedisServer> | undefined
/** One redis-server for the snippets that read `REDIS_URL`; fails naming what to install. */
const redisServer = (): Promise<RedisServer> => {
  redisStarting ??= RedisServer.start()
  return redisStarting
}

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
  // A server that never started has nothing to close (its test failed with the reason).
  await redisStarting?.then(
    (server) => server.close(),
    () => {},
  )
})

/** What vitest adds to a worker's environment (Vite's `import.meta.env`, mirrored). */
const VITEST_ENV = ['TEST', 'PROD', 'DEV', 'BASE_URL', 'MODE', 'SSR', 'FORCE_TTY']

/**
 * The environment of a user's shell: without what pnpm and vitest add. pnpm exports its own
 * config as npm_config_* (its globalconfig among them, which npm would then read), and
 * vitest sets NODE_ENV=test, which frameworks act on.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(npm_|pnpm_|vitest)/i.test(name) && !VITEST_ENV.includes(name),
    ),
  )
  if (env.NODE_ENV === 'test') delete env.NODE_ENV
  return env
}

/**
 * Runs a command to completion; a missing program fails with what to install. Bounded under
 * the install test's timeout, so that a hung npm fails that test (and the snippet tests,
 * which wait for the same install) instead of timing each of them out.
 */
function run(
  command: string,
  args: string[],
  cwd: string,
  install: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: userEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 100_000 },
      (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
          reject(new Error(`\`${command}\` is not installed: ${install}`))
        } else if (error) {
          reject(
            new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd}:\n${stderr}${stdout}`),
          )
        } else {
          resolve({ stdout, stderr })
        }
      },
    )
  })
}

const version = (pkg: Package): string =>
  JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')).version

interface InstalledApp {
  dir: string
}

async function install(): Promise<InstalledApp> {
  for (const pkg of PACKAGES) {
    if (!existsSync(join(root, 'packages', pkg, 'dist', 'index.js'))) {
      throw new Error(`packages/${pkg}/dist is missing: run \`pnpm build\` first`)
    }
  }
  const tarballs = join(work, 'tarballs')
  const dir = join(work, 'app')
  mkdirSync(tarballs)
  mkdirSync(dir)
  const pnpm = 'install it with `npm install -g pnpm@10` (or run ./scripts/setup.sh)'
  await Promise.all(
    PACKAGES.map((pkg) =>
      run('pnpm', ['pack', '--pack-destination', tarballs], join(root, 'packages', pkg), pnpm),
    ),
  )
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'ssekit-packaging-app', private: true, type: 'module' }, null, 2)}\n`,
  )
  const npm = 'install Node.js 20 or newer, which comes with npm'
  // Whatever registry this machine's npm is configured with (named when the install fails).
  const registry = (await run('npm', ['config', 'get', 'registry'], dir, npm)).stdout.trim()
  const files = PACKAGES.map((pkg) => join(tarballs, `ssekit-${pkg}-${version(pkg)}.tgz`))
  try {
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', ...files, ...FRAMEWORKS, ...SNIPPET_IMPORTS],
      dir,
      npm,
    )
  } catch (error) {
    throw new Error(`npm install from ${registry} failed: ${(error as Error).message}`)
  }
  writeFileSync(join(dir, 'listen-on-port-0.mjs'), PRELOAD)
  writeFileSync(join(dir, 'driver.mjs'), DRIVER)
  return { dir }
}

let installing: Promise<InstalledApp> | undefined
/** The app, packed and installed once for every test of this file. */
const installed = (): Promise<InstalledApp> => {
  installing ??= install()
  return installing
}

/**
 * Preloaded with `node --import`: whatever port and host a snippet passes to `listen`
 * (`server.listen(3000)`, `app.listen({ port: 3000 })`, `serve({ port: 3000 })`), the
 * server binds a free port on 127.0.0.1, and says which on stderr.
 */
const PRELOAD = `import net from 'node:net'

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const [first] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\\d+$/.test(first))) {
    const rest = args.slice(1)
    // listen(port, host, ...) and listen(port, undefined, callback)
    if (typeof rest[0] === 'string' || (rest[0] === undefined && rest.length > 1)) rest.shift()
    args = [0, '127.0.0.1', ...rest]
  } else if (first !== null && typeof first === 'object' && 'port' in first) {
    args = [{ ...first, port: 0, host: '127.0.0.1' }, ...args.slice(1)]
  } else if (first === undefined || typeof first === 'function') {
    args = [0, '127.0.0.1', ...args]
  }
  this.once('listening', () => {
    const address = this.address()
    if (address !== null && typeof address === 'object') {
      process.stderr.write('ssekit-test:listening ' + address.port + '\\n')
    }
  })
  return listen.apply(this, args)
}
`

/**
 * Runs a snippet that does not listen. \`evaluate FILE\`: imports it, then exits (a fragment
 * must evaluate without throwing). \`fetch FILE FRAMES\`: a Workers-style module, whose
 * \`default.fetch\` it calls as the runtime would, printing what the Response sends: up to
 * FRAMES frames, or all of it if it ends sooner.
 */
const DRIVER = `import { pathToFileURL } from 'node:url'

const [mode, file, frames] = process.argv.slice(2)
const snippet = await import(pathToFileURL(file).href)
if (mode === 'fetch') {
  const response = await snippet.default.fetch(new Request('http://x/'))
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let ended = false
  let timer
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, ${WAIT_MS}, { timedOut: true })
  })
  while (text.split('\\n\\n').length - 1 < Number(frames)) {
    const chunk = await Promise.race([reader.read(), timeout])
    if (chunk.timedOut) break
    if (chunk.done) {
      ended = true
      break
    }
    text += decoder.decode(chunk.value, { stream: true })
  }
  clearTimeout(timer)
  const result = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text,
    ended,
  }
  process.stdout.write(JSON.stringify(result) + '\\n')
}
process.exit(0)
`

interface Snippet {
  pkg: Package
  /** 1-based, in README order. */
  index: number
  /** The section the snippet sits in; undefined under the title, before any section. */
  heading: string | undefined
  code: string
}

function readmeSnippets(pkg: Package): Snippet[] {
  const markdown = readFileSync(join(root, 'packages', pkg, 'README.md'), 'utf8')
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match, i) => {
    const before = markdown.slice(0, match.index)
    const heading = [...before.matchAll(/^#{2,} (.+)$/gm)].at(-1)?.[1]
    return { pkg, index: i + 1, heading, code: match[1] ?? '' }
  })
}

/** Test names that say which snippet: by its section, and its rank where a section has several. */
function testName(snippet: Snippet, all: Snippet[]): string {
  const { pkg, heading } = snippet
  const same = all.filter((s) => s.pkg === pkg)
  if (same.length === 1) return `runs the ${pkg} README snippet from the installed packages`
  if (heading === undefined)
    return `runs the ${pkg} README's opening snippet from the installed packages`
  const section = same.filter((s) => s.heading === heading)
  const rank = section.length > 1 ? ` (${section.indexOf(snippet) + 1} of ${section.length})` : ''
  return `runs the ${pkg} README snippet under "${heading}"${rank} from the installed packages`
}

/** What one route of a snippet must send, where the snippet makes it deterministic. */
interface Expectation {
  pkg: Package
  /** A line that picks the snippet out of its README. */
  snippet: RegExp
  /** `METHOD /path` as the snippet declares it, or `fetch` for a Workers-style module. */
  route: string
  /** The URL requested, where not the route's path with `1` for each parameter. */
  url?: string
  /** The status the route answers, where not 200 (then nothing else is read). */
  status?: number
  /** A request body (JSON): for a POST route, which is requested only when listed here. */
  body?: unknown
  /** The first frames, exactly; a RegExp where the snippet leaves a value open. */
  frames: (string | RegExp)[]
  /** The stream ends after those frames. */
  ends?: boolean
  /** Then a request that publishes, and the frame that it must bring on this stream. */
  publish?: { path: string; body: unknown; frame: (reply: unknown) => string }
  /**
   * A reconnect that sends this Last-Event-ID gets this status; a function picks the id out
   * of the frames read (an id the snippet's store assigned).
   */
  resume?: { lastEventId: string | ((frames: string[]) => string); status: number }
  /** The route requested at other URLs first, and the status each answers: an unknown job. */
  elsewhere?: { url: string; status: number }[]
  /** Requests made before the route's, in order, each with its status: what starts a job. */
  before?: { method: 'POST' | 'DELETE'; path: string; status: number }[]
  /**
   * A client follows the route live from just after `before` until its stream ends, within
   * the bound (no sleep: this is how a test waits for a job to finish). It must get the first
   * frame and then the end of the log that the route, requested afterwards, sends whole: a
   * subscriber from `'now'` that joins a running job misses what came before it.
   */
  follow?: boolean
}

// `retry: { ms: 2000, jitter: 1000 }`: 2000 to 3000 ms.
const RETRY_2000_TO_3000 = /^retry: (2\d\d\d|3000)\n\n$/

// The jobs of the adapters' "Finishing for good": two steps, a final `done`, then a 204 for a
// client that comes back with `Last-Event-ID: done`.
const finishing = (pkg: Package): Expectation => ({
  pkg,
  snippet: /lastEventId\(/,
  route: 'GET /jobs/:id/events',
  frames: [
    'retry: 1000\n\n',
    'id: queued\ndata: queued\n\n',
    'id: running\ndata: running\n\n',
    'event: done\nid: done\ndata: {"ok":true}\n\n',
  ],
  ends: true,
  resume: { lastEventId: 'done', status: 204 },
})

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * A frame of a log in Redis: its id is `<epoch>-<ms>-<seq>`, `seq` the entry's gap-free place
 * in the log (1 for the first), the rest chosen by the store and Redis.
 */
const redisFrame = (event: string, seq: number, data: string): RegExp =>
  new RegExp(
    `^event: ${event}\\nid: [0-9a-z]{6,16}-\\d+-${seq}\\ndata: ${escapeRegExp(data)}\\n\\n$`,
  )

/** The id of a frame (its `id:` line). */
const idOf = (frame: string | undefined): string => /^id: (.*)$/m.exec(frame ?? '')?.[1] ?? ''

const expectations: Expectation[] = [
  { pkg: 'core', snippet: /http\.createServer/, route: 'GET /events', frames: ['retry: 3000\n\n'] },
  // The Web transport opens with a comment (see the core README), then the snippet's events.
  {
    pkg: 'core',
    snippet: /\['Server', 'Sent', 'Events'\]/,
    route: 'fetch',
    frames: [
      ':\n\n',
      'data: Server\n\n',
      'data: Sent\n\n',
      'data: Events\n\n',
      'event: done\ndata: \n\n',
    ],
    ends: true,
  },
  {
    pkg: 'core',
    snippet: /liftIdleTimeout/,
    route: 'fetch',
    frames: [':\n\n', 'data: hello\n\n'],
  },
  {
    pkg: 'core',
    snippet: /lastEventIdFrom/,
    route: 'GET /',
    frames: [
      'retry: 1000\n\n',
      'event: progress\nid: fetching\ndata: fetching\n\n',
      'event: progress\nid: building\ndata: building\n\n',
      'event: progress\nid: done\ndata: done\n\n',
    ],
    ends: true,
    resume: { lastEventId: 'done', status: 204 },
  },
  {
    pkg: 'express',
    snippet: /notices/,
    route: 'GET /events',
    frames: [RETRY_2000_TO_3000],
    publish: {
      path: '/notices',
      body: { text: 'hello' },
      frame: (reply) =>
        `event: notice\nid: ${(reply as { id: string }).id}\ndata: {"text":"hello"}\n\n`,
    },
  },
  {
    pkg: 'express',
    snippet: /notices/,
    route: 'GET /tokens',
    frames: [
      RETRY_2000_TO_3000,
      'data: one\n\n',
      'data: two\n\n',
      'data: three\n\n',
      'event: done\ndata: [DONE]\n\n',
    ],
    ends: true,
  },
  finishing('express'),
  {
    pkg: 'fastify',
    snippet: /builds/,
    route: 'GET /builds/log',
    frames: ['retry: 3000\n\n'],
    publish: {
      path: '/builds/log',
      body: { line: 'compiling' },
      frame: (reply) =>
        `event: log\nid: ${(reply as { id: string }).id}\ndata: {"line":"compiling"}\n\n`,
    },
  },
  finishing('fastify'),
  // The snippet publishes a random price every second.
  {
    pkg: 'hono',
    snippet: /prices/,
    route: 'GET /events/prices',
    frames: [/^event: price\ndata: \{"symbol":"ACME","price":1\d\d(\.\d+)?\}\n\n$/],
  },
  {
    pkg: 'hono',
    snippet: /prices/,
    route: 'POST /chat',
    body: { prompt: 'Server Sent Events' },
    frames: [
      'data: Server\n\n',
      'data: Sent\n\n',
      'data: Events\n\n',
      'event: done\ndata: [DONE]\n\n',
    ],
    ends: true,
  },
  finishing('hono'),
  // `sse({ retry: 2000 })`, then what POST /news publishes, with the id the store assigned.
  {
    pkg: 'redis',
    snippet: /RedisEventStore/,
    route: 'GET /news',
    frames: ['retry: 2000\n\n'],
    publish: {
      path: '/news',
      body: { title: 'hello' },
      frame: (reply) =>
        `event: news\nid: ${(reply as { id: string }).id}\ndata: {"title":"hello"}\n\n`,
    },
  },
  // A job's log: 404 before it starts. Once started, a client that follows it gets what was
  // published after it joined (the snippet subscribes from 'now'); once the job is over, its
  // log is sent whole: five steps and `done` (the log's end, its sixth entry), then the
  // stream ends, and a client that has it all gets 204.
  {
    pkg: 'redis',
    snippet: /RedisEventStore/,
    route: 'GET /jobs/:id/events',
    elsewhere: [{ url: '/jobs/unknown/events', status: 404 }],
    before: [{ method: 'POST', path: '/jobs/1', status: 202 }],
    follow: true,
    frames: [
      'retry: 2000\n\n',
      ...[1, 2, 3, 4, 5].map((step) => redisFrame('progress', step, `{"step":${step}}`)),
      redisFrame('done', 6, '{"ok":true}'),
    ],
    ends: true,
    resume: { lastEventId: (frames) => idOf(frames.at(-1)), status: 204 },
  },
  // DELETE reaches the producer's lease: the job publishes its first step at once, then,
  // cancelled within its 500 ms pause, ends with `done` and `ok: false`.
  {
    pkg: 'redis',
    snippet: /RedisEventStore/,
    route: 'GET /jobs/:id/events',
    url: '/jobs/2/events',
    before: [
      { method: 'POST', path: '/jobs/2', status: 202 },
      { method: 'DELETE', path: '/jobs/2', status: 204 },
    ],
    follow: true,
    frames: [
      'retry: 2000\n\n',
      redisFrame('progress', 1, '{"step":1}'),
      redisFrame('done', 2, '{"ok":false}'),
    ],
    ends: true,
    resume: { lastEventId: (frames) => idOf(frames.at(-1)), status: 204 },
  },
  // The client's example: an answer nobody started is a 404 (its own run posts one, reads
  // it typed, and exits: the snippet's process must succeed).
  {
    pkg: 'client',
    snippet: /from '@ssekit\/client'/,
    route: 'GET /answers/:id',
    status: 404,
    frames: [],
  },
]

/** Every expectation for one route of a snippet (each requests it once), in order. */
const expectationsFor = (snippet: Snippet, route: string): Expectation[] =>
  expectations.filter(
    (e) => e.pkg === snippet.pkg && e.route === route && e.snippet.test(snippet.code),
  )

const expectationFor = (snippet: Snippet, route: string): Expectation | undefined =>
  expectationsFor(snippet, route)[0]

interface Route {
  method: 'GET' | 'POST'
  /** As declared: `/jobs/:id/events`. */
  path: string
  /** What is requested: `/jobs/1/events`. */
  url: string
}

/**
 * The routes a snippet declares: `.get('/path'`, `.post<...>('/path'`, `req.url === '/path'`;
 * a server that declares none answers every path, so `/`.
 */
function routes(code: string): Route[] {
  const found = [
    ...[...code.matchAll(/\.(get|post)(?:<[^>]*>)?\(\s*(['"`])(\/[^'"`]*)\2/g)].map((m) => ({
      method: (m[1] ?? '').toUpperCase() as 'GET' | 'POST',
      path: m[3] ?? '',
    })),
    ...[...code.matchAll(/req\.url\s*===\s*(['"`])(\/[^'"`]*)\1/g)].map((m) => ({
      method: 'GET' as const,
      path: m[2] ?? '',
    })),
  ]
  if (found.length === 0) return [{ method: 'GET', path: '/', url: '/' }]
  return (
    found
      // A wildcard has no one URL to request.
      .filter((r) => !r.path.includes('*'))
      .map((r) => ({ ...r, url: r.path.replace(/:\w+/g, '1') }))
  )
}

/** A child `node` in the app, its output kept for failure messages. */
function startNode(
  dir: string,
  args: string[],
  { waitMs = WAIT_MS, env = {} }: { waitMs?: number; env?: NodeJS.ProcessEnv } = {},
) {
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...userEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8')
  const output = () => `node ${args.join(' ')}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`
  /** The first port it listens on, or its exit code if it ends first. */
  const outcome = new Promise<{ port: number } | { code: number | null }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no listening port and no exit within ${waitMs} ms: ${output()}`)),
      waitMs,
    )
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
      const port = /^ssekit-test:listening (\d+)$/m.exec(stderr)?.[1]
      if (port !== undefined) {
        clearTimeout(timer)
        resolve({ port: Number(port) })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      // Let the pipes drain so that output() has everything.
      setImmediate(() => resolve({ code }))
    })
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    children.delete(child)
  }
  return { outcome, output, stop, stdout: () => stdout }
}

/** Reads SSE frames (each ending in a blank line) off a response body, with a bound. */
function frameReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let ended = false
  return {
    get ended() {
      return ended
    },
    /** Up to `count` frames; fewer only if the stream ended. */
    async next(count: number): Promise<string[]> {
      const frames: string[] = []
      const deadline = Date.now() + WAIT_MS
      while (frames.length < count) {
        const end = buffer.indexOf('\n\n')
        if (end !== -1) {
          frames.push(buffer.slice(0, end + 2))
          buffer = buffer.slice(end + 2)
          continue
        }
        if (ended) break
        let timer: NodeJS.Timeout | undefined
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `no complete frame within ${WAIT_MS} ms; got ${JSON.stringify(frames.join('') + buffer)}`,
                  ),
                ),
              Math.max(0, deadline - Date.now()),
            )
          }),
        ]).finally(() => clearTimeout(timer))
        if (chunk.done) ended = true
        else buffer += decoder.decode(chunk.value, { stream: true })
      }
      return frames
    },
    /** Whatever came after the frames read (a partial frame, or more once ended). */
    rest: () => buffer,
    cancel: () => reader.cancel().catch(() => {}),
  }
}

/** Checks frames against an expectation, or, without one, that the first parses as SSE. */
function checkFrames(frames: string[], expected: Expectation | undefined, where: string) {
  if (expected === undefined) {
    expect(frames, `${where}: a first frame`).toHaveLength(1)
    const parsed: string[] = []
    const parser = createParser({
      onEvent: (event) => parsed.push(`event ${event.event ?? 'message'}`),
      onRetry: (ms) => parsed.push(`retry ${ms}`),
      onComment: (comment) => parsed.push(`comment ${comment}`),
      onError: (error) => parsed.push(`error ${error.message}`),
    })
    parser.feed(frames[0] ?? '')
    expect(parsed.length, `${where}: ${JSON.stringify(frames[0])} parses as SSE`).toBeGreaterThan(0)
    expect(
      parsed.filter((p) => p.startsWith('error')),
      where,
    ).toEqual([])
    return
  }
  expect(frames, `${where}: the first frames, ${JSON.stringify(frames)}`).toHaveLength(
    expected.frames.length,
  )
  expected.frames.forEach((want, i) => {
    if (typeof want === 'string') expect(frames[i], `${where}: frame ${i + 1}`).toBe(want)
    else expect(frames[i], `${where}: frame ${i + 1}`).toMatch(want)
  })
}

/** Reads a stream from its start to its end (bounded), for `follow`. */
async function followToEnd(url: string, where: string): Promise<string[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) })
  expect(response.status, `${where}: followed live`).toBe(200)
  const reader = frameReader(response.body!)
  try {
    // Far more than any expected log: a stream that does not end fails at the bound.
    const frames = await reader.next(1000)
    expect(reader.ended && reader.rest() === '', `${where}: followed live, it ends`).toBe(true)
    return frames
  } finally {
    await reader.cancel()
  }
}

/** Requests one route of a listening snippet and checks what it sends. */
async function checkRoute(
  base: string,
  route: Route,
  expected: Expectation | undefined,
  where: string,
): Promise<void> {
  for (const { url, status } of expected?.elsewhere ?? []) {
    const other = await fetch(`${base}${url}`, {
      method: route.method,
      signal: AbortSignal.timeout(WAIT_MS),
    })
    expect(other.status, `${where}: ${route.method} ${url}`).toBe(status)
    await other.body?.cancel()
  }
  for (const { method, path, status } of expected?.before ?? []) {
    const first = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(WAIT_MS) })
    expect(first.status, `${where}: first ${method} ${path}`).toBe(status)
    await first.body?.cancel()
  }
  const url = expected?.url ?? route.url
  const followed = expected?.follow ? await followToEnd(`${base}${url}`, where) : undefined
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), WAIT_MS)
  let frames: string[] = []
  try {
    const response = await fetch(`${base}${url}`, {
      method: route.method,
      signal: abort.signal,
      ...(expected?.body !== undefined && {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(expected.body),
      }),
    })
    clearTimeout(timer)
    expect(response.status, where).toBe(expected?.status ?? 200)
    if (expected?.status !== undefined) {
      await response.body?.cancel()
      return
    }
    const type = response.headers.get('content-type') ?? ''
    if (!type.startsWith('text/event-stream')) {
      expect(expected, `${where} answers ${type}, not text/event-stream`).toBeUndefined()
      await response.body?.cancel()
      return
    }
    expect(type, where).toBe('text/event-stream; charset=utf-8')
    const reader = frameReader(response.body!)
    try {
      const want = expected?.frames.length ?? 1
      frames = await reader.next(expected?.ends ? want + 1 : want)
      checkFrames(frames, expected, where)
      if (expected?.ends) {
        expect(reader.ended && reader.rest() === '', `${where}: the stream ends there`).toBe(true)
      }
      if (followed !== undefined) {
        const [opening, ...tail] = followed
        const live = `${where}: the client that followed it live, ${JSON.stringify(followed)}`
        expect(opening, live).toBe(frames[0])
        expect(tail.length, live).toBeGreaterThan(0)
        expect(tail, live).toEqual(frames.slice(frames.length - tail.length))
      }
      if (expected?.publish !== undefined) {
        const { path, body, frame } = expected.publish
        const published = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(WAIT_MS),
        })
        expect(published.status, `${where}: POST ${path}`).toBe(200)
        const reply: unknown = await published.json()
        expect(await reader.next(1), `${where}: after POST ${path}`).toEqual([frame(reply)])
      }
    } finally {
      await reader.cancel()
    }
    if (expected?.resume !== undefined) {
      const { status } = expected.resume
      const lastEventId =
        typeof expected.resume.lastEventId === 'string'
          ? expected.resume.lastEventId
          : expected.resume.lastEventId(frames)
      const again = await fetch(`${base}${url}`, {
        headers: { 'last-event-id': lastEventId },
        signal: AbortSignal.timeout(WAIT_MS),
      })
      expect(again.status, `${where} with Last-Event-ID: ${lastEventId}`).toBe(status)
      await again.body?.cancel()
    }
  } finally {
    clearTimeout(timer)
    abort.abort()
  }
}

/** The snippet as a user's compiled file: TypeScript to ESM JavaScript, types erased. */
function writeSnippet(dir: string, snippet: Snippet): string {
  const { outputText, diagnostics } = ts.transpileModule(snippet.code, {
    fileName: 'server.ts',
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  })
  expect(diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([])
  const file = `snippet-${snippet.pkg}-${snippet.index}.js`
  writeFileSync(join(dir, file), outputText)
  return file
}

describe('packaging', () => {
  test('installs every public package from its packed tarball outside the workspace', async () => {
    const app = await installed()
    const dir = realpathSync(app.dir)
    expect(dir.startsWith(realpathSync(root)), `${dir} is outside the workspace`).toBe(false)

    // Every @ssekit import resolves into the app's node_modules, to the tarball's copy.
    const names = PACKAGES.map((pkg) => `@ssekit/${pkg}`)
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { realpathSync } = await import('node:fs')
const { fileURLToPath } = await import('node:url')
const names = ${JSON.stringify(names)}
console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, realpathSync(fileURLToPath(import.meta.resolve(n)))]))))`,
      ],
      app.dir,
      'node',
    )
    expect(JSON.parse(stdout)).toEqual(
      Object.fromEntries(names.map((n) => [n, join(dir, 'node_modules', n, 'dist', 'index.js')])),
    )

    const lock = JSON.parse(readFileSync(join(app.dir, 'package-lock.json'), 'utf8'))
    for (const pkg of PACKAGES) {
      const where = `node_modules/@ssekit/${pkg}`
      // Installed from the tarball (a workspace link would be `link: true` to a directory).
      expect(lock.packages[where]?.resolved, where).toMatch(
        new RegExp(`^file:.*ssekit-${pkg}-${version(pkg).replaceAll('.', '\\.')}\\.tgz$`),
      )
      const manifest = JSON.parse(readFileSync(join(app.dir, where, 'package.json'), 'utf8'))
      expect(manifest.version, where).toBe(version(pkg))
      // The adapters depend on core by a real range: no `workspace:` left in the tarball.
      if (pkg !== 'core')
        expect(manifest.dependencies['@ssekit/core'], where).toBe(`^${version('core')}`)
      // One @ssekit/core for all: no adapter brought a copy of its own.
      expect(existsSync(join(app.dir, where, 'node_modules', '@ssekit', 'core')), where).toBe(false)
    }
    // What the snippets import besides, at the version asked for.
    expect(lock.packages['node_modules/redis']?.version, 'node_modules/redis').toBe(REDIS_CLIENT)
  }, 120_000)

  const snippets = PACKAGES.flatMap(readmeSnippets)

  test.each(snippets.map((snippet) => [testName(snippet, snippets), snippet] as const))(
    '%s',
    async (_name, snippet) => {
      const app = await installed()
      const file = writeSnippet(app.dir, snippet)
      const where = `${snippet.pkg} README snippet ${snippet.index} (${snippet.heading ?? 'opening'})`

      if (/export default\s*\{[\s\S]*\bfetch\b/.test(snippet.code)) {
        // A Workers-style module: call its fetch as the runtime would.
        const expected = expectationFor(snippet, 'fetch')
        const frames = expected === undefined ? 1 : expected.frames.length + (expected.ends ? 1 : 0)
        // The driver waits WAIT_MS for the frames at most, then reports what it has.
        const child = startNode(app.dir, ['./driver.mjs', 'fetch', file, String(frames)], {
          waitMs: 2 * WAIT_MS,
        })
        try {
          const outcome = await child.outcome
          expect(outcome, child.output()).toEqual({ code: 0 })
          const result = JSON.parse(child.stdout()) as {
            status: number
            contentType: string
            text: string
            ended: boolean
          }
          expect(result.status, where).toBe(200)
          expect(result.contentType, where).toBe('text/event-stream; charset=utf-8')
          const split = result.text.split(/(?<=\n\n)/).filter((f) => f !== '')
          checkFrames(split.slice(0, frames), expected, where)
          if (expected?.ends) expect(result.ended, `${where}: the stream ends there`).toBe(true)
        } finally {
          await child.stop()
        }
        return
      }

      if (!/\.listen\(|\bserve\(/.test(snippet.code)) {
        // A fragment of an app: it must import and evaluate.
        const child = startNode(app.dir, [
          '--import',
          './listen-on-port-0.mjs',
          './driver.mjs',
          'evaluate',
          file,
        ])
        try {
          expect(await child.outcome, child.output()).toEqual({ code: 0 })
        } finally {
          await child.stop()
        }
        return
      }

      // A server: run as pasted, on the port the preload picks (and a real Redis if it reads one).
      const env = /\bprocess\.env\.REDIS_URL\b/.test(snippet.code)
        ? { REDIS_URL: (await redisServer()).url }
        : {}
      const child = startNode(app.dir, ['--import', './listen-on-port-0.mjs', file], { env })
      try {
        const outcome = await child.outcome
        if (!('port' in outcome))
          throw new Error(`${where} exited without listening: ${child.output()}`)
        const requested = routes(snippet.code).filter(
          (r) =>
            r.method === 'GET' ||
            expectationFor(snippet, `${r.method} ${r.path}`)?.body !== undefined,
        )
        expect(requested.length, `${where} declares a GET route`).toBeGreaterThan(0)
        for (const route of requested) {
          const found = expectationsFor(snippet, `${route.method} ${route.path}`)
          for (const expected of found.length > 0 ? found : [undefined]) {
            try {
              await checkRoute(
                `http://127.0.0.1:${outcome.port}`,
                route,
                expected,
                `${where}: ${route.method} ${expected?.url ?? route.url}`,
              )
            } catch (error) {
              ;(error as Error).message += `\n${child.output()}`
              throw error
            }
          }
        }
      } finally {
        await child.stop()
      }
    },
    60_000,
  )
})
