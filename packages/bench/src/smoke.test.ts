/**
 * The bench, tiny (`--smoke`: 20 clients, one repetition, well under a second a scenario),
 * through the real orchestrator, server and client processes: every scenario yields finite
 * numbers for every target, and nothing it started outlives it. No timing is asserted.
 * Like `pnpm bench`, it loads @ssekit/* from their dist/ (`pnpm build`; CI builds first).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, test } from 'vitest'
import { SCENARIOS } from './config.js'
import { runsIn, TARGETS } from './targets.js'

const bench = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'ssekit-bench-smoke-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: bench,
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.run.json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => {
      output += d
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d
    })
    // The orchestrator must end by itself; a hang is a failure, not a timeout of the test.
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the smoke run did not end within 100 s:\n${output}`))
    }, 100_000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

/** Whether `pid` is still one of the bench's processes (a pid reused since is not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.includes('bench/src') || cmdline.includes('strace')
  } catch {
    // No /proc (not Linux): the pid exists, assume it is ours.
    return existsSync(`/proc`) === false
  }
}

type Report = {
  targets: string[]
  results: Record<string, Record<string, Record<string, unknown>>>
  encode: { avg: number }[]
  spawned: number[]
}

test('every scenario runs tiny through the real processes: finite numbers for every target, nothing left running', async () => {
  const missing = ['core', 'express', 'fastify', 'hono'].filter(
    (pkg) => !existsSync(join(bench, `../${pkg}/dist/index.js`)),
  )
  if (missing.length > 0) {
    throw new Error(
      `run pnpm build first: the bench loads @ssekit/* from dist/, and packages/{${missing.join(',')}}/dist is missing`,
    )
  }
  const json = join(dir, 'smoke.json')
  const { code, output } = await run(['--smoke', `--json=${json}`])
  expect(code, output).toBe(0)
  const report = JSON.parse(readFileSync(json, 'utf8')) as Report

  for (const scenario of SCENARIOS) {
    if (scenario === 'encode') {
      expect(report.encode.length, 'encode results').toBeGreaterThan(0)
      for (const e of report.encode) expect(Number.isFinite(e.avg), 'encode mean').toBe(true)
      continue
    }
    for (const target of TARGETS.filter((t) => runsIn(t, scenario))) {
      const where = `${scenario} / ${target.name}`
      const metrics = report.results[scenario]?.[target.name] ?? {}
      expect(metrics.failed, `${where}: failed`).toBeUndefined()
      const numbers = Object.entries(metrics).flatMap(([metric, values]) =>
        (values as unknown[]).map((v) => [metric, v] as const),
      )
      expect(numbers.length, `${where}: no numbers`).toBeGreaterThan(0)
      for (const [metric, value] of numbers) {
        expect(Number.isFinite(value), `${where}: ${metric} = ${String(value)}`).toBe(true)
      }
    }
  }

  expect(report.spawned.length).toBeGreaterThan(TARGETS.length)
  expect(report.spawned.filter(running), 'processes still running').toEqual([])
})
