/**
 * Sharing one connection between tabs, in Node: Node's own `BroadcastChannel` (which carries
 * messages between instances of one process as between tabs) and a Web Locks stand-in that
 * grants one lock holder at a time in request order, as browsers do. The real thing, across
 * real tabs, is tested in Chromium with the ai-chat example.
 */
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, waitFor } from '../../core/src/test-utils/index.js'
import { connect } from './index.js'
import { resolveOptions } from './options.js'
import type { ShareDeps } from './share.js'
import { shareName } from './share.js'
import { SseSource } from './source.js'
import { openStream, startRawServer } from './test-utils/apps.js'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** Web Locks, exclusive mode, with `signal`: enough of `navigator.locks` for sharing. */
class Locks {
  #held = new Set<string>()
  #queue: { name: string; grant: () => void }[] = []

  request = ((
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const grant = () => {
        this.#held.add(name)
        Promise.resolve()
          .then(() => callback({ name, mode: 'exclusive' }))
          .then(resolve, reject)
          .finally(() => {
            this.#held.delete(name)
            const next = this.#queue.findIndex((q) => q.name === name)
            if (next !== -1) this.#queue.splice(next, 1)[0]!.grant()
          })
      }
      if (options.signal?.aborted) return reject(options.signal.reason)
      if (!this.#held.has(name)) return grant()
      const entry = { name, grant }
      this.#queue.push(entry)
      options.signal?.addEventListener('abort', () => {
        const i = this.#queue.indexOf(entry)
        if (i === -1) return
        this.#queue.splice(i, 1)
        reject(options.signal!.reason)
      })
    })) as unknown as LockManager['request']
}

/** A feed: each request gets what follows its Last-Event-ID, then live events. */
async function feed() {
  const log: string[] = []
  const open = new Set<ServerResponse>()
  const server = cleanup.add(
    await startRawServer((req, res) => {
      openStream(res)
      const from = Number(req.headers['last-event-id'] ?? 0)
      for (let id = from + 1; id <= log.length; id++)
        res.write(`id: ${id}\ndata: ${log[id - 1]}\n\n`)
      open.add(res)
      res.on('close', () => open.delete(res))
    }),
    (s) => s.close(),
  )
  return {
    server,
    open: () => open.size,
    publish(data: string) {
      log.push(data)
      for (const res of open) res.write(`id: ${log.length}\ndata: ${data}\n\n`)
    },
  }
}

/** A "tab": a shared source with this process's BroadcastChannel and the given locks. */
function tab(url: string, locks: Locks) {
  const deps: ShareDeps = { locks, BroadcastChannel }
  const source = new SseSource(
    resolveOptions(url, { share: true, reconnect: { delay: 0, maxDelay: 0 } }),
    deps,
  )
  cleanup.add(source, (s) => s.close())
  const got: string[] = []
  source.on('message', (m) => got.push(`${m.id}:${m.data}`))
  return { source, got }
}

describe('share: one connection for the tabs of an origin', () => {
  it('holds one connection for two tabs and hands it over without loss when the holder closes', async () => {
    const { server, publish, open } = await feed()
    const locks = new Locks()
    const a = tab(server.url, locks)
    await waitFor(() => open() === 1)
    const b = tab(server.url, locks)

    publish('one')
    publish('two')
    await waitFor(() => a.got.length === 2 && b.got.length === 2)
    expect(server.requests).toHaveLength(1)
    expect(a.got).toEqual(['1:one', '2:two'])
    expect(b.got).toEqual(['1:one', '2:two'])

    a.source.close() // the holding tab closes: the other takes over from the last id it saw
    publish('three') // published while nobody holds the connection
    await waitFor(() => server.requests.length === 2 && open() === 1)
    publish('four')
    await waitFor(() => b.got.length === 4)
    expect(b.got).toEqual(['1:one', '2:two', '3:three', '4:four'])
    expect(server.requests[1]!.lastEventId).toBe('2')
    expect(a.got).toEqual(['1:one', '2:two'])
    expect(await a.source.closed).toEqual({ reason: 'closed' })
  })

  it('ends every tab when the stream finishes (204), and each says so', async () => {
    let served = 0
    const server = cleanup.add(
      await startRawServer((_req, res) => {
        if (served++ > 0) return res.writeHead(204).end()
        openStream(res)
        res.end('id: 1\ndata: last\n\n')
      }),
      (s) => s.close(),
    )
    const locks = new Locks()
    const a = tab(server.url, locks)
    const b = tab(server.url, locks)
    expect(await a.source.closed).toEqual({ reason: 'done' })
    expect(await b.source.closed).toEqual({ reason: 'done' })
    // The other tab never starts over: it was told of the end, or asks from the last id
    // and is told 204.
    const ids = server.requests.map((r) => r.lastEventId)
    expect(ids[0]).toBeUndefined()
    expect(ids.slice(1)).toEqual(ids.length === 2 ? ['1'] : ['1', '1'])
  })

  it('names a request by its method, URL, headers and body, not by where it starts', () => {
    const name = (url: string, o: object) => shareName(resolveOptions(url, o))
    const base = name('http://x.test/a', { json: { q: 1 } })
    expect(name('http://x.test/a', { json: { q: 1 }, lastEventId: '5' })).toBe(base)
    expect(name('http://x.test/a', { json: { q: 2 } })).not.toBe(base)
    expect(name('http://x.test/b', { json: { q: 1 } })).not.toBe(base)
    expect(name('http://x.test/a', { json: { q: 1 }, headers: { authorization: 'x' } })).not.toBe(
      base,
    )
    expect(base).toMatch(/^ssekit:[0-9a-z]+$/)
  })

  it('connects on its own where Web Locks are missing (Node)', async () => {
    const { server, publish, open } = await feed()
    const source = connect(server.url, { share: true })
    cleanup.add(source, (s) => s.close())
    const got: string[] = []
    source.on('message', (m) => got.push(m.data))
    await waitFor(() => open() === 1)
    publish('solo')
    await waitFor(() => got.length === 1)
    expect(got).toEqual(['solo'])
  })
})
