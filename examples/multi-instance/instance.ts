/**
 * One instance as its own process, started by `main.ts` (one per framework):
 *
 *   ID=a FRAMEWORK=express REDIS_URL=redis://127.0.0.1:6379 PORT=3001 tsx instance.ts
 *
 * Prints `{"url":…,"pid":…}` once it listens. SIGINT/SIGTERM close it gracefully; it also
 * exits when its stdin closes (the `main.ts` that started it is gone).
 */
import { type Framework, start } from './server.js'

const { ID = 'a', FRAMEWORK = 'express', REDIS_URL, PORT = '0' } = process.env
if (REDIS_URL === undefined) throw new Error('instance.ts: set REDIS_URL (main.ts does)')
if (FRAMEWORK !== 'express' && FRAMEWORK !== 'hono') {
  throw new Error('instance.ts: FRAMEWORK must be express or hono')
}

const running = await start({
  id: ID,
  framework: FRAMEWORK as Framework,
  redisUrl: REDIS_URL,
  port: Number(PORT),
})
process.stdout.write(`${JSON.stringify({ url: running.url, pid: process.pid })}\n`)

let closing = false
const stop = () => {
  if (closing) return
  closing = true
  setTimeout(() => process.exit(1), 3000).unref()
  running.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()
