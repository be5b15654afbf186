/**
 * Docs are part of the feature: every TypeScript snippet in the READMEs must compile as
 * pasted, against the packages' real types.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, test } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const work = fileURLToPath(new URL('../.readme-check/', import.meta.url))

const readmes = [
  'README.md',
  'packages/core/README.md',
  'packages/express/README.md',
  'packages/fastify/README.md',
  'packages/hono/README.md',
  'packages/redis/README.md',
  'packages/client/README.md',
]

function snippets(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
}

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  esModuleInterop: true,
  paths: {
    '@ssekit/core': [join(root, 'packages/core/src/index.ts')],
    '@ssekit/express': [join(root, 'packages/express/src/index.ts')],
    '@ssekit/fastify': [join(root, 'packages/fastify/src/index.ts')],
    '@ssekit/hono': [join(root, 'packages/hono/src/index.ts')],
    '@ssekit/redis': [join(root, 'packages/redis/src/index.ts')],
    '@ssekit/client': [join(root, 'packages/client/src/index.ts')],
  },
}

describe.each(readmes)('%s', (readme) => {
  const blocks = snippets(readFileSync(join(root, readme), 'utf8'))

  test('has at least one TypeScript snippet', () => {
    expect(blocks.length).toBeGreaterThan(0)
  })

  test('every TypeScript snippet compiles as pasted', () => {
    const dir = join(work, readme.replaceAll('/', '_'))
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    // A module directory, so that snippets are ESM (top-level await) like a user's app.
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
    const files = blocks.map((code, i) => {
      const file = join(dir, `snippet-${i + 1}.ts`)
      mkdirSync(dirname(file), { recursive: true })
      // Each snippet is a module of its own, as a pasted file would be.
      writeFileSync(
        file,
        code.includes('export ') || code.includes('import ') ? code : `${code}\nexport {}\n`,
      )
      return file
    })
    const program = ts.createProgram(files, options)
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && files.includes(d.file.fileName))
      .map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
        return `${d.file!.fileName.slice(dir.length + 1)}:${line + 1} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
      })
    expect(problems).toEqual([])
  })
})
