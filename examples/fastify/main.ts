/** `pnpm start`: the example on $PORT (default 3001), until Ctrl-C. */
import { runUntilSignal } from '@ssekit/example-shared/run'
import { start } from './server.js'

runUntilSignal('Fastify', await start({ port: Number(process.env.PORT ?? 3001) }))
