/**
 * An AI-style POST endpoint: a JSON body `{ prompt }`, and a response that streams tokens
 * derived from it, read with `fetch` and parsed with `eventsource-parser`.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { describe, expect, it } from 'vitest'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  it('streams tokens derived from the POSTed prompt, parsed from the fetch body', async () => {
    const app = await h.start(adapter, [
      {
        method: 'POST',
        path: '/v1/chat',
        options: { heartbeat: false },
        handler: async (stream, request) => {
          const { prompt } = request.body as { prompt: string }
          for (const [i, word] of prompt.split(' ').entries()) {
            await stream.send({ event: 'token', id: String(i), data: { text: word.toUpperCase() } })
          }
          await stream.send({ event: 'done', data: '[DONE]' })
          stream.close()
        },
      },
    ])
    const response = await fetch(`${app.url}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ prompt: 'tell me a story' }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')

    const events: EventSourceMessage[] = []
    const parser = createParser({
      onEvent: (event) => {
        events.push({ ...event })
      },
    })
    const decoder = new TextDecoder()
    let raw = ''
    const body = response.body!.getReader()
    for (let chunk = await body.read(); !chunk.done; chunk = await body.read()) {
      const text = decoder.decode(chunk.value, { stream: true })
      raw += text
      parser.feed(text)
    }
    expect(events).toEqual([
      { event: 'token', id: '0', data: '{"text":"TELL"}' },
      { event: 'token', id: '1', data: '{"text":"ME"}' },
      { event: 'token', id: '2', data: '{"text":"A"}' },
      { event: 'token', id: '3', data: '{"text":"STORY"}' },
      { event: 'done', id: undefined, data: '[DONE]' },
    ])
    expect(raw).toBe(
      adapter.preamble +
        'event: token\nid: 0\ndata: {"text":"TELL"}\n\nevent: token\nid: 1\ndata: {"text":"ME"}\n\n' +
        'event: token\nid: 2\ndata: {"text":"A"}\n\nevent: token\nid: 3\ndata: {"text":"STORY"}\n\n' +
        'event: done\ndata: [DONE]\n\n',
    )
  })
})
