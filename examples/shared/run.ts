/** How every example listens and stops: the same for the three frameworks. */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A started example: its URL, its server, and a graceful `close()`. */
export interface Running {
  url: string
  server: Server
  close(): Promise<void>
}

/**
 * Waits for `server` to listen. Its `close()` ends the streams first (`closeStreams`;
 * the server would otherwise wait for them), then the server.
 */
export async function listening(server: Server, closeStreams: () => void): Promise<Running> {
  if (!server.listening) await once(server, 'listening')
  const address = server.address() as AddressInfo
  return {
    url: `http://localhost:${address.port}`,
    server,
    async close() {
      closeStreams()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}

/** `pnpm start`: prints the URL and closes gracefully on Ctrl-C or SIGTERM. */
export function runUntilSignal(framework: string, app: { url: string; close(): Promise<void> }) {
  console.log(`ssekit ${framework} example: ${app.url}`)
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
}
