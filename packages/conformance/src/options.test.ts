/**
 * Stream options that shape the wire: `retry`, `padding`, `heartbeat`, `serializer`.
 */
import { describe, expect, it } from 'vitest'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  it('writes retry: N as the very first frame', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { retry: 1234 },
        handler: async (stream) => {
          await stream.send('x')
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/events`)
    expect(await reader.readToEnd()).toBe('retry: 1234\n\ndata: x\n\n')
  })

  it('picks a retry within { ms, jitter } for each client', async () => {
    const app = await h.start(
      adapter,
      [{ method: 'GET', path: '/events', handler: (stream) => stream.close() }],
      { heartbeat: false, retry: { ms: 100, jitter: 50 } },
    )
    const { reader } = await h.fetchSse(`${app.url}/events`)
    const text = await reader.readToEnd()
    const match = /^retry: (\d+)\n\n$/.exec(text)
    expect(match, text).not.toBe(null)
    const ms = Number(match![1])
    expect(ms >= 100 && ms <= 150, String(ms)).toBe(true)
  })

  it('sends padding first, then retry, then events', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { padding: 2048, retry: 500 },
        handler: async (stream) => {
          await stream.send({ event: 'ready', data: 'ok' })
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/events`)
    const padding = `:${' '.repeat(2045)}\n\n`
    expect(padding.length).toBe(2048)
    expect(await reader.readToEnd()).toBe(`${padding}retry: 500\n\nevent: ready\ndata: ok\n\n`)
    expect(reader.bytes).toBe(2048 + 'retry: 500\n\nevent: ready\ndata: ok\n\n'.length)
  })

  it('sends a :\\n\\n comment every heartbeat interval while nothing else is written', async () => {
    const app = await h.start(adapter, [
      { method: 'GET', path: '/events', options: { heartbeat: 50 }, handler: () => {} },
    ])
    const { reader } = await h.fetchSse(`${app.url}/events`)
    // Two heartbeats after the preamble (on the Web transport, itself a comment).
    const first = `${adapter.preamble}:\n\n:\n\n`
    const text = await reader.waitForText(first.length, 3000)
    expect(text.slice(0, first.length)).toBe(first)
    expect(text).toBe(':\n\n'.repeat(text.length / 3))
    expect(reader.events).toEqual([])
  })

  it('sends the heartbeat after the last event, not before it', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: 50 },
        handler: async (stream) => {
          await stream.send('first')
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/events`)
    const expected = `${adapter.preamble}data: first\n\n:\n\n`
    const text = await reader.waitForText(expected.length, 3000)
    expect(text.slice(0, expected.length)).toBe(expected)
  })

  it('turns non-string data into text with the serializer option', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/events',
        options: { heartbeat: false, serializer: (data) => `<${JSON.stringify(data, null, 1)}>` },
        handler: async (stream) => {
          await stream.send({ a: [1] })
          await stream.send('as is')
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/events`)
    expect(await reader.readToEnd()).toBe(
      `${adapter.preamble}data: <{\ndata:  "a": [\ndata:   1\ndata:  ]\ndata: }>\n\ndata: as is\n\n`,
    )
  })
})
