/**
 * @ssekit/core must run where there is no Node: no runtime import of a `node:` module, no
 * `require`, and no bare `process`/`Buffer` (those exist only on Node). Type-only imports
 * of Node's types are fine: they are erased.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const dir = new URL('./', import.meta.url)
const sources = readdirSync(dir)
  .filter((name) => name.endsWith('.ts') && !name.includes('.test'))
  .map((name) => ({ name, code: readFileSync(new URL(name, dir), 'utf8') }))

/** The code without comments and string contents, so that prose cannot trip the checks. */
function codeOnly(code: string): string {
  return code
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/[^\n]*/g, '')
    .replace(/`(?:\\.|[^`\\])*`/g, '``')
}

describe('the files of @ssekit/core', () => {
  it('are all checked (the list is not empty)', () => {
    expect(sources.map((s) => s.name)).toContain('transport-web.ts')
    expect(sources.length).toBeGreaterThan(10)
  })

  it.each(sources)('$name loads nothing from node: at run time', ({ code }) => {
    const runtimeImports = [
      ...code.matchAll(
        /^\s*(import|export)\s+(?!type\b)[^;]*?from\s+['"](node:[^'"]+|[a-z_]+)['"]/gm,
      ),
    ]
      .map((m) => m[2])
      .filter(
        (specifier) =>
          specifier?.startsWith('node:') ||
          ['fs', 'http', 'http2', 'net', 'events', 'stream', 'buffer'].includes(specifier!),
      )
    expect(runtimeImports).toEqual([])
    expect(codeOnly(code)).not.toMatch(/\brequire\s*\(/)
  })

  it.each(sources)('$name touches no Node-only global', ({ code }) => {
    const bare = codeOnly(code)
    // `globalThis.process` and `globalThis.Buffer` (feature-detected) are allowed; a bare
    // `process.` or `Buffer` is not.
    const detected = bare.replace(/globalThis(\s+as\s+[^)]*\))?\)?\.(process|Buffer)\b/g, '')
    expect(detected).not.toMatch(/(?<![.\w])process\./)
    expect(detected).not.toMatch(/(?<![.\w])Buffer\b/)
  })
})
