/**
 * One stream, in one process, without the orchestrator: the quickest way to see what a
 * change to the send path costs. `node --import tsx src/micro/one-stream.ts <mode>` (with
 * TSX_TSCONFIG_PATH=tsconfig.run.json, after pnpm build), best pinned: `taskset -c 0 …` (the
 * reader is pinned to the last core when taskset exists). Modes: `ssekit` (await send() of
 * the bench's object payload), `ssekit-string` (the same payload already a string), `floor`
 * (res.write of a pre-built frame, waiting for drain only when it returns false). Prints
 * events/s and server CPU per event over 200,000 events, after 20,000 of warm-up.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism } from 'node:os'
import { createEventStream } from '@ssekit/core'
import { DATA, EVENT, FRAME, ID, SSE_HEADERS } from '../shared.js'

const mode = process.argv[2] ?? 'ssekit'
if (!['ssekit', 'ssekit-string', 'floor'].includes(mode)) {
  throw new Error(`unknown mode ${mode}: ssekit, ssekit-string or floor`)
}
const N = 200_000
const WARM = 20_000
const data = mode === 'ssekit-string' ? JSON.stringify(DATA) : DATA

const server = createServer(async (req, res) => {
  let send: () => Promise<unknown> | undefined
  if (mode === 'floor') {
    res.writeHead(200, SSE_HEADERS)
    res.flushHeaders()
    const frame = Buffer.from(FRAME)
    send = () => (res.write(frame) ? undefined : once(res, 'drain'))
  } else {
    const stream = createEventStream(req, res)
    send = () => stream.send({ event: EVENT, id: ID, data })
  }
  // The floor waits only when a write returns false; ssekit's send() is always awaited, as
  // its users write it.
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const pending = send()
      if (pending !== undefined) await pending
    }
  }
  await run(WARM)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run(N)
  const cpu = process.cpuUsage(cpu0)
  const ms = performance.now() - t0
  console.log(
    `${mode}: ${Math.round(N / ms)}k events/s, ${Math.round(((cpu.user + cpu.system) * 1000) / N)} ns of server CPU per event`,
  )
  process.exit(0)
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  const reader = `const s=require('node:net').connect(${port},'127.0.0.1',()=>s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));s.on('data',()=>{});s.on('error',()=>{})`
  const pinned = spawnSync('taskset', ['-V']).status === 0
  const core = String(availableParallelism() - 1)
  const child = pinned
    ? spawn('taskset', ['-c', core, process.execPath, '-e', reader], { stdio: 'ignore' })
    : spawn(process.execPath, ['-e', reader], { stdio: 'ignore' })
  process.on('exit', () => child.kill())
})
