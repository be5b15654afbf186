/** `pnpm start`: the example on $PORT (default 3000), until Ctrl-C. */
import { runUntilSignal } from '@ssekit/example-shared/run'
import { start } from './server.js'

runUntilSignal('Express', await start({ port: Number(process.env.PORT ?? 3000) }))
