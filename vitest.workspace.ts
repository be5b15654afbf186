/**
 * The list of test projects. Vitest 4 no longer reads workspace files by itself, so this
 * is a config that declares `test.projects`; the root `pnpm test` runs it with
 * `vitest run --config vitest.workspace.ts`.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (pkg: string) =>
  fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url))

// Tests run against the sources, so that `pnpm test` needs no build and reports real lines.
const alias = {
  '@ssekit/core': src('core'),
  '@ssekit/express': src('express'),
  '@ssekit/fastify': src('fastify'),
  '@ssekit/hono': src('hono'),
  '@ssekit/redis': src('redis'),
  '@ssekit/client': src('client'),
}

const unit = (name: string, extra: Record<string, unknown> = {}) => ({
  resolve: { alias },
  test: {
    name,
    root: `packages/${name}`,
    include: ['src/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    ...extra,
  },
})

export default defineConfig({
  test: {
    // The JSON report is what .ci/run reads to print "N passed, M failed"; the Node 24 run
    // (scripts/test-node24.mjs) writes its own, named by SSEKIT_VITEST_REPORT.
    reporters: [
      'default',
      ['json', { outputFile: process.env.SSEKIT_VITEST_REPORT ?? '.vitest-results.json' }],
    ],
    projects: [
      unit('core'),
      unit('express'),
      unit('fastify'),
      unit('hono'),
      unit('redis', { testTimeout: 60_000 }),
      unit('client'),
      unit('conformance', { testTimeout: 60_000 }),
      unit('bench', { testTimeout: 120_000 }),
      // The three framework examples, one suite (examples/shared/examples.test.ts), and the
      // multi-instance and AI chat examples, started as a user would and driven in Chromium.
      unit('examples', {
        root: 'examples',
        include: ['shared/*.test.ts', 'multi-instance/*.test.ts', 'ai-chat/*.test.ts'],
      }),
      {
        resolve: { alias },
        test: {
          name: 'core:types',
          root: 'packages/core',
          include: [],
          typecheck: {
            enabled: true,
            only: true,
            include: ['src/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      ...['express', 'fastify', 'hono', 'client'].map((pkg) => ({
        resolve: { alias },
        test: {
          name: `${pkg}:types`,
          root: `packages/${pkg}`,
          include: [],
          typecheck: {
            enabled: true,
            only: true,
            include: ['src/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      })),
    ],
  },
})
