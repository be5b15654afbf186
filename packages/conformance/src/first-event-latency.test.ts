/**
 * First-event latency of Hono's `sseRoute` on Node (the binary running this suite: Node 20
 * under `pnpm test`'s first run, Node 24 under `pnpm run test:node24`) and on Bun, each
 * server in a child process of its own, measured from here the same way as on Deno and
 * workerd (runtime-deno.test.ts, runtime-workerd.test.ts). Prints `[measure]` lines.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import { FIRST_EVENT_NODE, FIRST_EVENT_WEB } from './support-runtimes/first-event.js'
import {
  bunBinary,
  bundle,
  measureFirstEvent,
  RuntimeProcess,
  tempDir,
} from './support-runtimes/processes.js'

const script = fileURLToPath(new URL('./support-runtimes/first-event-server.ts', import.meta.url))

describe('first-event latency', () => {
  const running: RuntimeProcess[] = []
  const dir = tempDir('ssekit-latency-')

  afterAll(async () => {
    await Promise.all(running.map((child) => child.stop()))
    dir.remove()
  })

  test(`on Node ${process.versions.node} (Hono on @hono/node-server, the Node transport)`, async () => {
    const bundled = join(dir.path, 'node-server.mjs')
    await bundle(script, bundled, 'node')
    const { process: node, info } = await RuntimeProcess.start('node', process.execPath, [bundled])
    running.push(node)
    expect(info.version).toBe(process.versions.node)
    const p50 = await measureFirstEvent(
      `node ${info.version}`,
      `http://127.0.0.1:${info.port}/first`,
      FIRST_EVENT_NODE,
    )
    expect(p50).toBeLessThan(1000)
    expect(node.stderr).toBe('')
  })

  test('on Bun (Hono on Bun.serve, the Web transport)', async () => {
    const { process: bun, info } = await RuntimeProcess.start('bun', bunBinary(), [script])
    running.push(bun)
    const p50 = await measureFirstEvent(
      `bun ${info.version}`,
      `http://127.0.0.1:${info.port}/first`,
      FIRST_EVENT_WEB,
    )
    expect(p50).toBeLessThan(1000)
    expect(bun.stderr).toBe('')
  })
})
