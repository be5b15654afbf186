/**
 * Server CPU per connect/close of one target, without the orchestrator:
 * `node --import tsx src/micro/churn-cpu.ts ssekit-core.ts` (a file of src/targets; with
 * TSX_TSCONFIG_PATH=tsconfig.run.json, after pnpm build). 50 loops open /events, read the
 * head, close, for 1 s of warm-up and then 3 s, in a child process; prints cycles/s and the
 * server's CPU per cycle (this process is the server).
 */
import { fork } from 'node:child_process'
import { connect } from 'node:net'
import type { Start } from '../shared.js'

if (process.argv[2] === '--client') {
  const port = Number(process.argv[3])
  const ms = Number(process.argv[4])
  let cycles = 0
  let stop = false
  const loop = (): void => {
    if (stop) return
    const socket = connect(port, '127.0.0.1', () =>
      socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n'),
    )
    socket.once('data', () => {
      cycles++
      socket.destroy()
      loop()
    })
    socket.on('error', () => {})
  }
  for (let i = 0; i < 50; i++) loop()
  setTimeout(() => {
    stop = true
    process.send?.(cycles, () => process.exit(0))
  }, ms)
} else {
  const file = process.argv[2] ?? 'ssekit-core.ts'
  const { start } = (await import(`../targets/${file}`)) as { start: Start }
  const { port } = await start({ streamStarted() {} })
  const churn = async (ms: number): Promise<number> => {
    const child = fork(new URL(import.meta.url), ['--client', String(port), String(ms)])
    return new Promise((resolve) => child.once('message', (n) => resolve(n as number)))
  }
  await churn(1000)
  const cpu0 = process.cpuUsage()
  const cycles = await churn(3000)
  const cpu = process.cpuUsage(cpu0)
  console.log(
    `${file}: ${Math.round(cycles / 3)} cycles/s, ${((cpu.user + cpu.system) / cycles).toFixed(1)} µs of server CPU per cycle`,
  )
  process.exit(0)
}
