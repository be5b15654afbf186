/**
 * `stream.pipe()` of an async iterable (an LLM-style token stream), and the producer being
 * stopped (its `finally` run) when the client leaves mid-stream.
 */
import type { EventStream } from '@ssekit/core'
import { describe, expect, it } from 'vitest'
import { deferred, waitFor } from '../../core/src/test-utils/index.js'
import { adapters } from './adapters.js'
import { useHarness } from './support/harness.js'

const TOKENS = ['Hello', ',', ' world', '!', ' ', '\n', 'Line two', ' 👋', '']

/** Yields tokens the way a model client does: each after an await. */
async function* llm(tokens: string[], onFinally: () => void): AsyncGenerator<string> {
  try {
    for (const token of tokens) {
      await new Promise((resolve) => setImmediate(resolve))
      yield token
    }
  } finally {
    onFinally()
  }
}

describe.each(adapters)('$name', (adapter) => {
  const h = useHarness()

  it('pipes every token in order, then the done event, then ends', async () => {
    let finallyRuns = 0
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/chat',
        options: { heartbeat: false },
        handler: async (stream) => {
          await stream.pipe(
            llm(TOKENS, () => {
              finallyRuns++
            }),
          )
          await stream.send({ event: 'done', data: '[DONE]' })
          stream.close()
        },
      },
    ])
    const { reader } = await h.fetchSse(`${app.url}/chat`)
    const text = await reader.readToEnd()
    expect(text).toBe(
      adapter.preamble +
        'data: Hello\n\ndata: ,\n\ndata:  world\n\ndata: !\n\ndata:  \n\ndata: \ndata: \n\n' +
        'data: Line two\n\ndata:  👋\n\ndata: \n\nevent: done\ndata: [DONE]\n\n',
    )
    expect(reader.events).toEqual([
      ...TOKENS.map((data) => ({ data })),
      { event: 'done', data: '[DONE]' },
    ])
    expect(finallyRuns).toBe(1)

    const client = h.eventSource(`${app.url}/chat`, { types: ['done'] })
    const messages = await client.waitForMessages(TOKENS.length + 1)
    client.close()
    expect(messages.map(({ type, data }) => ({ type, data }))).toEqual([
      ...TOKENS.map((data) => ({ type: 'message', data })),
      { type: 'done', data: '[DONE]' },
    ])
  })

  it('stops the producer (its finally runs) when the client leaves mid-pipe', async () => {
    const finallyRan = deferred()
    const piped = deferred<'resolved' | 'rejected'>()
    let yielded = 0
    const opened = deferred<EventStream>()
    async function* endless(): AsyncGenerator<string> {
      try {
        for (;;) {
          await new Promise((resolve) => setImmediate(resolve))
          yield `token ${yielded++}`
        }
      } finally {
        finallyRan.resolve()
      }
    }
    const app = await h.start(adapter, [
      {
        method: 'GET',
        path: '/chat',
        options: { heartbeat: false },
        handler: (stream) => {
          opened.resolve(stream)
          stream.pipe(endless()).then(
            () => piped.resolve('resolved'),
            () => piped.resolve('rejected'),
          )
        },
      },
    ])
    const { reader, abort } = await h.fetchSse(`${app.url}/chat`)
    const events = await reader.waitForEvents(3)
    expect(events.slice(0, 3)).toEqual([
      { data: 'token 0' },
      { data: 'token 1' },
      { data: 'token 2' },
    ])
    await abort()
    const stream = await opened.promise
    await waitFor(() => stream.closed, 5000, 'the server noticing the disconnect')
    await finallyRan.promise
    expect(await piped.promise).toBe('resolved')
    // The generator was returned, not drained: it stops yielding.
    const stoppedAt = yielded
    await new Promise((resolve) => setImmediate(resolve))
    expect(yielded).toBe(stoppedAt)
  })
})
