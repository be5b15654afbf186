/**
 * The wire format: a corpus of tricky payloads, compared as the exact bytes on the wire and
 * as an EventSource (the `eventsource` package) reads them back; named events and ids.
 */
import { describe, expect, it } from 'vitest'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'

interface Case {
  name: string
  data: unknown
  /** The exact frame on the wire. */
  frame: string
  /** `event.data` as a spec client gives it back. */
  parsed: string
}

// Written out by hand (not with encode()) so that the suite checks the encoder, not itself.
const CORPUS: Case[] = [
  { name: 'plain text', data: 'hello', frame: 'data: hello\n\n', parsed: 'hello' },
  { name: 'LF', data: 'a\nb', frame: 'data: a\ndata: b\n\n', parsed: 'a\nb' },
  { name: 'CR', data: 'a\rb', frame: 'data: a\ndata: b\n\n', parsed: 'a\nb' },
  { name: 'CRLF', data: 'a\r\nb', frame: 'data: a\ndata: b\n\n', parsed: 'a\nb' },
  {
    name: 'mixed breaks',
    data: '1\r\n2\r3\n4',
    frame: 'data: 1\ndata: 2\ndata: 3\ndata: 4\n\n',
    parsed: '1\n2\n3\n4',
  },
  { name: 'lone CR at the end', data: 'end\r', frame: 'data: end\ndata: \n\n', parsed: 'end\n' },
  { name: 'LF at the start', data: '\nstart', frame: 'data: \ndata: start\n\n', parsed: '\nstart' },
  {
    name: 'blank line inside',
    data: 'a\n\nb',
    frame: 'data: a\ndata: \ndata: b\n\n',
    parsed: 'a\n\nb',
  },
  { name: 'CRLF CRLF', data: '\r\n\r\n', frame: 'data: \ndata: \ndata: \n\n', parsed: '\n\n' },
  { name: 'empty string', data: '', frame: 'data: \n\n', parsed: '' },
  {
    name: 'unicode and emoji',
    data: 'héllo 世界 👋🏽 ∑',
    frame: 'data: héllo 世界 👋🏽 ∑\n\n',
    parsed: 'héllo 世界 👋🏽 ∑',
  },
  {
    name: 'JSON with newlines in strings',
    data: { text: 'line 1\nline 2\r\n', n: 1 },
    frame: 'data: {"text":"line 1\\nline 2\\r\\n","n":1}\n\n',
    parsed: '{"text":"line 1\\nline 2\\r\\n","n":1}',
  },
  {
    name: 'multi-line JSON text',
    data: '{\n  "a": 1\n}',
    frame: 'data: {\ndata:   "a": 1\ndata: }\n\n',
    parsed: '{\n  "a": 1\n}',
  },
  { name: 'leading space', data: ' spaced', frame: 'data:  spaced\n\n', parsed: ' spaced' },
  {
    name: 'leading colon',
    data: ':not a comment',
    frame: 'data: :not a comment\n\n',
    parsed: ':not a comment',
  },
  {
    name: 'colon after a break',
    data: 'a\n: b',
    frame: 'data: a\ndata: : b\n\n',
    parsed: 'a\n: b',
  },
  {
    name: 'field names inside data',
    data: 'id: 1\nevent: x\nretry: 1',
    frame: 'data: id: 1\ndata: event: x\ndata: retry: 1\n\n',
    parsed: 'id: 1\nevent: x\nretry: 1',
  },
  { name: 'trailing spaces and tab', data: 'x \t ', frame: 'data: x \t \n\n', parsed: 'x \t ' },
  { name: 'NUL', data: 'a\u0000b', frame: 'data: a\u0000b\n\n', parsed: 'a\u0000b' },
  { name: 'number', data: 42, frame: 'data: 42\n\n', parsed: '42' },
]

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  const corpusRoute = {
    method: 'GET' as const,
    path: '/corpus',
    options: { heartbeat: false as const },
    handler: async (stream: import('@ssekit/core').EventStream) => {
      for (const c of CORPUS) await stream.send(c.data)
      stream.close()
    },
  }

  it('writes every corpus payload as its exact frame on the wire', async () => {
    const app = await h.start(adapter, [corpusRoute])
    const { response, reader } = await h.fetchSse(`${app.url}/corpus`)
    expect(response.status).toBe(200)
    const text = await reader.readToEnd()
    // The preamble, then frame by frame, for a readable failure; then the whole body, byte
    // for byte.
    expect(text.slice(0, adapter.preamble.length), 'preamble').toBe(adapter.preamble)
    let offset = adapter.preamble.length
    for (const c of CORPUS) {
      expect(text.slice(offset, offset + c.frame.length), c.name).toBe(c.frame)
      offset += c.frame.length
    }
    expect(text).toBe(adapter.preamble + CORPUS.map((c) => c.frame).join(''))
  })

  it('gives every corpus payload back to an EventSource with line breaks read as LF', async () => {
    const app = await h.start(adapter, [corpusRoute])
    const client = h.eventSource(`${app.url}/corpus`)
    const messages = await client.waitForMessages(CORPUS.length)
    client.close()
    expect(messages.map((m) => m.data)).toEqual(CORPUS.map((c) => c.parsed))
    expect(messages.every((m) => m.type === 'message')).toBe(true)
    expect(JSON.parse(messages[11]!.data)).toEqual({ text: 'line 1\nline 2\r\n', n: 1 })
  })

  it('writes event and id fields and the client dispatches by event name', async () => {
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/named',
        options: { heartbeat: false },
        handler: async (stream) => {
          await stream.send({ event: 'update', id: '7', data: { v: 1 } })
          await stream.send({ data: 'plain' })
          await stream.send({ event: 'update', data: 'no id' })
          await stream.send({ id: '', data: 'id reset' })
          await stream.send({ event: 'status', id: 'x-9', retry: 1500, data: 'a\nb' })
          await stream.send({ data: { data: 'wrapped payload', extra: true } })
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/named`)
    expect(await reader.readToEnd()).toBe(
      [
        adapter.preamble,
        'event: update\nid: 7\ndata: {"v":1}\n\n',
        'data: plain\n\n',
        'event: update\ndata: no id\n\n',
        'id: \ndata: id reset\n\n',
        'event: status\nid: x-9\nretry: 1500\ndata: a\ndata: b\n\n',
        'data: {"data":"wrapped payload","extra":true}\n\n',
      ].join(''),
    )

    const client = h.eventSource(`${app.url}/named`, { types: ['update', 'status'] })
    const messages = await client.waitForMessages(6)
    client.close()
    expect(messages.map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'update', data: '{"v":1}' },
      { type: 'message', data: 'plain' },
      { type: 'update', data: 'no id' },
      { type: 'message', data: 'id reset' },
      { type: 'status', data: 'a\nb' },
      { type: 'message', data: '{"data":"wrapped payload","extra":true}' },
    ])
    // eventsource@4 puts only the event's own id on MessageEvent.lastEventId (not the sticky one).
    expect([messages[0]!.lastEventId, messages[3]!.lastEventId, messages[4]!.lastEventId]).toEqual([
      '7',
      '',
      'x-9',
    ])
  })
})
