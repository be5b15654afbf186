/**
 * `pnpm start`: bundles the page's script, serves the chat on $PORT (default 3000; 0 picks a
 * free port) and prints its URL; Ctrl-C (or SIGTERM) cancels running answers and ends every
 * stream, then the server.
 */
import { runUntilSignal } from '@ssekit/example-shared/run'
import { start } from './server.js'

const tokenMs = process.env.TOKEN_MS === undefined ? undefined : Number(process.env.TOKEN_MS)
runUntilSignal('AI chat', await start({ port: Number(process.env.PORT ?? 3000), tokenMs }))
