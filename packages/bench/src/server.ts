/**
 * A target's server process: `server.ts <file>`. Driven by the orchestrator over IPC, so
 * that nothing but the target itself runs on this event loop while it is measured.
 */
import { setImmediate as tick } from 'node:timers/promises'
import { type Hooks, now, type Running, type Start } from './shared.js'

type Command =
  | { id: number; cmd: 'count' }
  | { id: number; cmd: 'publish' }
  | { id: number; cmd: 'burst'; count: number; maxMs: number }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'exit' }

const send = (message: object) => process.send!(message)

const cpu = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const hooks: Hooks = {
  streamStarted: () => send({ type: 'stream-started', t: now(), cpu: cpu() }),
}

const file = process.argv[2]!
const { start } = (await import(`./targets/${file}`)) as { start: Start }
const running: Running = await start(hooks)

process.on('message', async (m: Command) => {
  switch (m.cmd) {
    case 'count':
      send({ id: m.id, n: running.subscribers() })
      break
    case 'publish': {
      const t0 = now()
      running.publish()
      const t1 = now()
      send({ id: m.id, t0, t1 })
      break
    }
    case 'burst': {
      // A sustained broadcast: one publish per event-loop turn, so that the sockets drain
      // between publishes as they would with events arriving from I/O. Capped in time, so
      // that a slow target does not stretch the whole run.
      const t0 = now()
      const deadline = t0 + m.maxMs * 1e6
      let published = 0
      while (published < m.count && (published < 20 || now() < deadline)) {
        running.publish()
        published++
        await tick()
      }
      send({ id: m.id, t0, t1: now(), published })
      break
    }
    case 'cpu':
      send({ id: m.id, cpu: cpu() })
      break
    case 'exit':
      process.exit(0)
  }
})

send({ type: 'ready', port: running.port })
