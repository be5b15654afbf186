/**
 * The page's script, bundled by esbuild when the server starts (about 50 ms, kept in
 * memory): `page.ts` imports `@ssekit/client`, which imports the npm package
 * `eventsource-parser` by its bare name, and a browser cannot resolve a bare name by itself.
 * The bundle is one ES module with both inside; nothing is written to disk.
 */
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/** Bundles `page.ts` for the browser; resolves to the code of `/app.js`. */
export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [here('./page.ts')],
    // The `paths` of tsconfig.json point `@ssekit/client` at its TypeScript sources, as tsx
    // does for the server: no build step.
    tsconfig: here('./tsconfig.json'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}
