/**
 * Typed events at run time: Standard Schema validators (zod and valibot here, with no
 * dependency of core on either) refuse an invalid payload at send/publish, naming the event
 * and the issue, and nothing is written or stored; a likely typo of an event field throws
 * instead of sending the whole object as data.
 */
import * as v from 'valibot'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createChannel } from './channel.js'
import { encode } from './encode.js'
import { MemoryEventStore } from './store-memory.js'
import type { EventStream } from './stream.js'
import { memoryStream } from './test-utils/index.js'

const opened: EventStream[] = []
afterEach(() => {
  for (const s of opened.splice(0)) s.close()
})

function open(options: Parameters<typeof memoryStream>[0] = {}) {
  const made = memoryStream({ heartbeat: false, ...options })
  opened.push(made.stream)
  return made
}

type Events = { token: string; done: { usage: number } }

describe.each([
  ['zod', { token: z.string(), done: z.object({ usage: z.number().int() }) }],
  ['valibot', { token: v.string(), done: v.object({ usage: v.pipe(v.number(), v.integer()) }) }],
])('Standard Schema validators (%s)', (_name, schema) => {
  it('sends valid events and refuses an invalid one at send, naming the event and the issue', async () => {
    const { stream, transport } = open({ schema })
    await stream.send({ event: 'token', data: 'Hel' })
    expect(() => stream.send({ event: 'done', data: { usage: 'three' } })).toThrow(
      /^@ssekit\/core: event "done" data is invalid at "usage": .+; nothing was written\.$/,
    )
    expect(() => stream.send({ event: 'token', data: 42 })).toThrow(/event "token" data is invalid/)
    await stream.send({ event: 'done', data: { usage: 3 } })
    expect(transport.text).toBe('event: token\ndata: Hel\n\nevent: done\ndata: {"usage":3}\n\n')
  })

  it('refuses an invalid event at publish: it is never stored nor written', async () => {
    const store = new MemoryEventStore()
    const channel = createChannel<Events>({ name: 'answer', store, schema })
    const { stream, transport } = open()
    await channel.subscribe(stream)
    expect(() => channel.publish({ event: 'done', data: { usage: 1.5 } })).toThrow(
      /event "done" data is invalid at "usage"/,
    )
    expect(store.info('answer').exists).toBe(false)
    expect(transport.text).toBe('')
    await expect(channel.end({ event: 'done', data: { usage: 'x' } } as never)).rejects.toThrow(
      /event "done" data is invalid/,
    )
    expect(store.info('answer').ended).toBe(false)
  })
})

describe('schema option', () => {
  it('throws at creation for a schema that is not a Standard Schema, naming the event', () => {
    expect(() => open({ schema: { token: (x: unknown) => x } as never })).toThrow(
      /option "schema" must be a Standard Schema validator for event "token"/,
    )
    expect(() => createChannel({ schema: { done: {} } as never })).toThrow(
      /channel option "schema" must be a Standard Schema validator for event "done"/,
    )
  })

  it('refuses an asynchronous schema: events are written in order, at once', () => {
    const asyncSchema = {
      '~standard': { version: 1, vendor: 'test', validate: async (value: unknown) => ({ value }) },
    } as const
    const { stream } = open({ schema: { message: asyncSchema } })
    expect(() => stream.send('x')).toThrow(/validates asynchronously/)
  })
})

describe('likely typos of event fields', () => {
  it.each([
    ['evnt', 'event'],
    ['Event', 'event'],
    ['evetn', 'event'],
    ['ID', 'id'],
    ['Id', 'id'],
    ['retyr', 'retry'],
    ['Retry', 'retry'],
  ])('throws for "%s" next to data, suggesting "%s"', (key, meant) => {
    const { stream, transport } = open()
    expect(() => stream.send({ data: 'x', [key]: 'foo' })).toThrow(
      new RegExp(
        `event field "${key}" is not one of data, event, id, retry \\(did you mean "${meant}"\\?\\)`,
      ),
    )
    expect(() => createChannel().publish({ data: 'x', [key]: 'foo' })).toThrow(/did you mean/)
    expect(transport.text).toBe('')
  })

  it('sends an object with data and unrelated keys as the payload, as documented', async () => {
    const { stream, transport } = open()
    await stream.send({ data: [1, 2], total: 2 })
    expect(transport.text).toBe('data: {"data":[1,2],"total":2}\n\n')
    expect(encode({ data: 'plain' })).toBe('data: plain\n\n')
  })
})
