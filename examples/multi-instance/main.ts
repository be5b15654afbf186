/**
 * `pnpm start`: Redis, two instances (A on Express, B on Hono) and nginx in front of them,
 * all on free loopback ports, in a temporary directory. An instance that dies (try the
 * page's "Crash" button, or `kill -9` its pid) is started again on its port a second later.
 * Ctrl-C (or SIGTERM) stops everything and removes the directory.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, type Service, startNginx, startRedis } from './infra.js'
import type { Framework } from './server.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'ssekit-multi-'))
const services: Service[] = []
const instances = new Map<string, ChildProcess>()
let stopping = false

/** Starts instance `id` on `port`; resolves once it listens. */
function startInstance(id: string, framework: Framework, port: number, redisUrl: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'instance.ts'], {
    cwd: here,
    env: { ...process.env, ID: id, FRAMEWORK: framework, PORT: String(port), REDIS_URL: redisUrl },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  instances.set(id, child)
  child.once('exit', (code, signal) => {
    if (stopping) return
    console.log(
      `instance ${id.toUpperCase()} (${framework}) exited (${signal ?? code}); starting it again in 1 s`,
    )
    setTimeout(() => {
      if (stopping) return
      startInstance(id, framework, port, redisUrl).then(
        (pid) => console.log(`instance ${id.toUpperCase()} (${framework}) restarted: pid ${pid}`),
        (error) => console.error(error),
      )
    }, 1000)
  })
  return new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk
      if (out.includes('\n')) {
        child.stdout!.removeAllListeners('data')
        child.stdout!.resume()
        resolve(child.pid!)
      }
    })
    child.once('exit', () => reject(new Error(`instance ${id} exited before listening`)))
  })
}

async function stopAll(signal: string, code = 0) {
  if (stopping) return
  stopping = true
  console.log(`${signal}: stopping nginx, the instances and Redis`)
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => child.once('exit', resolve))
  const children = [...services.map((s) => s.child), ...instances.values()].reverse()
  for (const child of children) child.kill('SIGTERM')
  const timer = setTimeout(() => {
    for (const child of children) child.kill('SIGKILL')
  }, 3000)
  await Promise.all(children.map(exited))
  clearTimeout(timer)
  rmSync(dir, { recursive: true, force: true })
  process.exit(code)
}
process.once('SIGINT', () => void stopAll('SIGINT'))
process.once('SIGTERM', () => void stopAll('SIGTERM'))
// `kill <pid of pnpm>` ends pnpm without telling us: when our parent is gone, stop too,
// rather than leave Redis, nginx and the instances running.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) void stopAll('SIGTERM')
}, 500).unref()

try {
  const redis = await startRedis(dir)
  services.push(redis)
  const redisUrl = `redis://127.0.0.1:${redis.port}`
  const upstreams = [
    { id: 'a', framework: 'express' as const, port: await freePort() },
    { id: 'b', framework: 'hono' as const, port: await freePort() },
  ]
  const pids = await Promise.all(
    upstreams.map((u) => startInstance(u.id, u.framework, u.port, redisUrl)),
  )
  const nginx = await startNginx(dir, Number(process.env.PORT ?? 0), upstreams)
  services.push(nginx)
  console.log(`redis-server: ${redisUrl}`)
  console.log(`nginx configuration and logs: ${dir} (removed on exit)`)
  upstreams.forEach((u, i) => {
    console.log(
      `instance ${u.id.toUpperCase()} (${u.framework}): http://127.0.0.1:${u.port}, pid ${pids[i]}`,
    )
  })
  console.log(`ssekit multi-instance example: http://127.0.0.1:${nginx.port}`)
} catch (error) {
  console.error(error)
  await stopAll('error', 1)
}
