/**
 * Behind a real nginx with its defaults (response buffering on): events must still arrive
 * one by one, and the heartbeat must keep a quiet stream alive past proxy_read_timeout
 * (without it nginx cuts the stream after the timeout: the second test then fails).
 */

import { afterEach, describe, expect, test } from 'vitest'
import { fetchSse } from '../../core/src/test-utils/index.js'
import { adapters, type RunningApp } from './adapters.js'
import { type Nginx, startNginx } from './support-proxy/nginx.js'

describe.each(adapters)('$name behind nginx', (adapter) => {
  let app: RunningApp | undefined
  let nginx: Nginx | undefined
  afterEach(async () => {
    await nginx?.stop()
    await app?.close()
    nginx = undefined
    app = undefined
  })

  test('events pass through nginx one by one, each before the next is sent', async () => {
    let release!: () => void
    const second = new Promise<void>((resolve) => {
      release = resolve
    })
    app = await adapter.start([
      {
        method: 'GET',
        path: '/events',
        handler: async (stream) => {
          await stream.send({ id: '1', data: 'first' })
          await second
          await stream.send({ id: '2', data: 'second' })
          stream.close()
        },
      },
    ])
    nginx = await startNginx(app.url, 30)
    const client = await fetchSse(`${nginx.url}/events`)
    expect(client.response.status).toBe(200)
    expect(client.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    // The second event is only sent once the first has come through the proxy.
    expect(await client.reader.waitForEvents(1)).toEqual([{ id: '1', data: 'first' }])
    release()
    expect(await client.reader.readToEnd()).toBe(
      `${adapter.preamble}id: 1\ndata: first\n\nid: 2\ndata: second\n\n`,
    )
  })

  test('the heartbeat keeps a quiet stream open past proxy_read_timeout', async () => {
    app = await adapter.start(
      [
        {
          method: 'GET',
          path: '/quiet',
          handler: async (stream) => {
            await stream.send({ data: 'hello' })
            // Quiet for 2.5 s, more than twice nginx's 1 s read timeout.
            const timer = setTimeout(() => {
              void stream.send({ data: 'still here' }).then(() => stream.close())
            }, 2500)
            stream.onClose(() => clearTimeout(timer))
          },
        },
      ],
      { heartbeat: 300 },
    )
    nginx = await startNginx(app.url, 1)
    const client = await fetchSse(`${nginx.url}/quiet`)
    const text = await client.reader.readToEnd(10_000)
    expect(client.reader.events).toEqual([{ data: 'hello' }, { data: 'still here' }])
    // Only heartbeats in between: nginx saw a byte well within every second.
    expect(text.replaceAll(':\n\n', '')).toBe('data: hello\n\ndata: still here\n\n')
    expect(client.reader.comments.length).toBeGreaterThanOrEqual(5)
  })
})
