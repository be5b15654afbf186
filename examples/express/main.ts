/** `pnpm start`: the example on $PORT (default 3000), until Ctrl-C. */
import { start } from './server.js'

const app = await start({ port: Number(process.env.PORT ?? 3000) })
console.log(`ssekit Express example: ${app.url}`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`${signal}: closing the streams and the server`)
    // Should something still hold the server open, do not wait for ever.
    setTimeout(() => process.exit(1), 5000).unref()
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error)
        process.exit(1)
      },
    )
  })
}
