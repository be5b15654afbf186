import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  encode,
  encodeComment,
  encodePadding,
  encodeRetry,
  isSseEvent,
  toBytes,
  utf8Length,
} from './encode.js'
import { SseTypeError } from './errors.js'
import { parseSse } from './test-utils/index.js'

/** What a spec parser must give back for `data`: every CRLF or CR read as LF. */
const normalise = (text: string) => text.replace(/\r\n|\r/g, '\n')

/** Pieces that try to break out of a `data:` line, mixed into arbitrary strings. */
const hostile = fc.constantFrom(
  '\n',
  '\r',
  '\r\n',
  '\n\n',
  '\r\r',
  '\n\r',
  '',
  ' ',
  ':',
  '\0',
  '\uFEFF',
  '\u2028',
  '😀',
  '\n\nid: forged\n',
  '\nretry: 1\n',
  '\r\nevent: forged\r\n',
  '\ndata: second\n\n',
  'data: x',
)

/** Well-formed strings (no lone surrogates: UTF-8 cannot carry them) with line breaks. */
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc
    .array(fc.oneof(hostile, fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 12 })
    .map((parts) => parts.join('')),
)

/** A value of an `event` field: anything without CR or LF. */
const eventName = fc.string({ unit: 'binary' }).filter((s) => !/[\r\n]/.test(s))
/** A value of an `id` field: anything without CR, LF or NUL. */
const idValue = fc.string({ unit: 'binary' }).filter((s) => !/[\r\n\0]/.test(s))

const json = fc.oneof(
  fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ stringUnit: 'binary' })),
  fc.array(fc.jsonValue({ stringUnit: 'binary' })),
  fc.jsonValue({ stringUnit: 'binary' }).filter((v) => typeof v !== 'string'),
)

describe('encode round-trips through a spec parser', () => {
  it('gives back any string data with each CRLF and CR read as LF, and the event, id and retry', () => {
    fc.assert(
      fc.property(
        text,
        fc.option(eventName, { nil: undefined }),
        fc.option(idValue, { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        (data, event, id, retry) => {
          const frame = encode({ data, event, id, retry })
          expect(frame.endsWith('\n\n')).toBe(true)
          const parsed = parseSse(frame)
          expect(parsed.errors).toEqual([])
          expect(parsed.comments).toEqual([])
          expect(parsed.events).toHaveLength(1)
          const [got] = parsed.events
          expect(got!.data).toBe(normalise(data))
          // The parser reports an empty event type as absent (both mean `message`).
          expect(got!.event).toBe(event === '' ? undefined : event)
          expect(got!.id).toBe(id)
          expect(parsed.retries).toEqual(retry === undefined ? [] : [retry])
        },
      ),
      { numRuns: 500 },
    )
  })

  it('gives back any JSON value as data that parses to an equal value', () => {
    fc.assert(
      fc.property(json, fc.option(idValue, { nil: undefined }), (value, id) => {
        const parsed = parseSse(encode({ data: value, id }))
        expect(parsed.events).toHaveLength(1)
        expect(JSON.parse(parsed.events[0]!.data)).toEqual(JSON.parse(JSON.stringify(value)))
        expect(parsed.events[0]!.id).toBe(id)
      }),
      { numRuns: 300 },
    )
  })

  it('lets no data produce another field or another event', () => {
    fc.assert(
      fc.property(text, (data) => {
        const parsed = parseSse(encode({ data }))
        expect(parsed.items).toEqual([{ type: 'event', data: normalise(data) }])
        // Every line of the frame is a data line, and only the last line is blank.
        const lines = encode({ data }).split('\n')
        expect(lines.slice(0, -2).every((line) => line.startsWith('data: '))).toBe(true)
        expect(lines.slice(-2)).toEqual(['', ''])
      }),
      { numRuns: 500 },
    )
  })

  it('keeps a frame self-contained when concatenated with others', () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 5 }), (datas) => {
        const parsed = parseSse(datas.map((data) => encode({ data })).join(''))
        expect(parsed.events.map((e) => e.data)).toEqual(datas.map(normalise))
      }),
    )
  })
})

describe('encode writes exact frames', () => {
  it('writes event, id and retry before the data, and ends with a blank line', () => {
    expect(encode({ event: 'tick', id: '7', retry: 10, data: { n: 1 } })).toBe(
      'event: tick\nid: 7\nretry: 10\ndata: {"n":1}\n\n',
    )
  })

  it('sends string data as is and anything else through JSON.stringify', () => {
    expect(encode({ data: 'hello' })).toBe('data: hello\n\n')
    expect(encode({ data: '"quoted"' })).toBe('data: "quoted"\n\n')
    expect(encode({ data: 42 })).toBe('data: 42\n\n')
    expect(encode({ data: null })).toBe('data: null\n\n')
    expect(encode({ data: [1, 'a'] })).toBe('data: [1,"a"]\n\n')
  })

  it('splits CRLF in data into two data lines', () => {
    expect(encode({ data: 'a\r\nb' })).toBe('data: a\ndata: b\n\n')
  })

  it('splits a lone CR and a lone LF in data into data lines', () => {
    expect(encode({ data: 'a\rb\nc' })).toBe('data: a\ndata: b\ndata: c\n\n')
    expect(encode({ data: 'a\n\nb' })).toBe('data: a\ndata: \ndata: b\n\n')
    expect(encode({ data: 'a\n' })).toBe('data: a\ndata: \n\n')
    expect(encode({ data: '\r\n' })).toBe('data: \ndata: \n\n')
  })

  it('never trims data: leading and trailing spaces survive', () => {
    const frame = encode({ data: '  two spaces  ' })
    expect(frame).toBe('data:   two spaces  \n\n')
    expect(parseSse(frame).events).toEqual([{ data: '  two spaces  ' }])
  })

  it('sends empty string data as one empty data line, which a parser dispatches', () => {
    expect(encode({ data: '' })).toBe('data: \n\n')
    expect(parseSse(encode({ data: '' })).events).toEqual([{ data: '' }])
  })

  it('writes retry: 0 (a meaningful value, not a missing one)', () => {
    expect(encode({ data: 'x', retry: 0 })).toBe('retry: 0\ndata: x\n\n')
    expect(parseSse(encode({ data: 'x', retry: 0 })).retries).toEqual([0])
  })

  it("writes id: '' (it resets the client's Last-Event-ID)", () => {
    expect(encode({ data: 'x', id: '' })).toBe('id: \ndata: x\n\n')
    expect(parseSse(encode({ data: 'x', id: '' })).events).toEqual([{ id: '', data: 'x' }])
  })

  it('writes astral characters as they are', () => {
    expect(encode({ data: '𝄞😀', id: '🆔' })).toBe('id: 🆔\ndata: 𝄞😀\n\n')
  })

  it('uses the given serializer for non-string data only', () => {
    const serializer = (value: unknown) => `<${String(value)}>`
    expect(encode({ data: 5 }, serializer)).toBe('data: <5>\n\n')
    expect(encode({ data: 'as is' }, serializer)).toBe('data: as is\n\n')
  })

  it('splits serializer output on line breaks too', () => {
    expect(encode({ data: { a: 1 } }, (v) => JSON.stringify(v, null, 1))).toBe(
      'data: {\ndata:  "a": 1\ndata: }\n\n',
    )
  })
})

describe('encodeComment and the other frames', () => {
  it('prefixes every line of a comment with a colon', () => {
    expect(encodeComment('a\nb')).toBe(': a\n: b\n\n')
    expect(encodeComment('a\r\nb\rc')).toBe(': a\n: b\n: c\n\n')
  })

  it('writes an empty comment as a bare colon', () => {
    expect(encodeComment()).toBe(':\n\n')
    expect(encodeComment('')).toBe(':\n\n')
  })

  it('writes comments that a parser reports as comments and never as events', () => {
    fc.assert(
      fc.property(text, (t) => {
        const parsed = parseSse(encodeComment(t))
        expect(parsed.events).toEqual([])
        expect(parsed.retries).toEqual([])
      }),
    )
  })

  it('pads with a comment of exactly the given number of bytes', () => {
    expect(encodePadding(3)).toBe(':\n\n')
    expect(encodePadding(10)).toBe(`:${' '.repeat(7)}\n\n`)
    expect(new TextEncoder().encode(encodePadding(2048)).byteLength).toBe(2048)
  })

  it('writes a frame that only sets the reconnection delay', () => {
    expect(encodeRetry(1500)).toBe('retry: 1500\n\n')
    expect(parseSse(encodeRetry(1500)).items).toEqual([{ type: 'retry', ms: 1500 }])
  })
})

describe('encode rejects fields that cannot go on the wire', () => {
  const rejects = (event: unknown, pattern: RegExp) => {
    let error: unknown
    try {
      encode(event as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toBeInstanceOf(SseTypeError)
    expect((error as SseTypeError).code).toBe('ERR_SSE_INVALID_FIELD')
    expect((error as Error).message).toMatch(/^@ssekit\/core: /)
    expect((error as Error).message).toMatch(pattern)
  }

  it('throws a TypeError naming "event" for CR or LF in the event name', () => {
    rejects({ data: 'x', event: 'a\nb' }, /"event" must not contain CR or LF/)
    rejects({ data: 'x', event: 'a\rb' }, /"event" must not contain CR or LF/)
    rejects({ data: 'x', event: 'a\r\nb' }, /"event" must not contain CR or LF/)
    rejects({ data: 'x', event: 5 }, /"event" must be a string/)
  })

  it('throws a TypeError naming "id" for CR, LF or NUL in the id', () => {
    rejects({ data: 'x', id: 'a\nb' }, /"id" must not contain CR, LF or NUL/)
    rejects({ data: 'x', id: 'a\rb' }, /"id" must not contain CR, LF or NUL/)
    rejects({ data: 'x', id: 'a\0b' }, /"id" must not contain CR, LF or NUL/)
    rejects({ data: 'x', id: true }, /"id" must be a string or a finite number/)
    rejects({ data: 'x', id: null }, /"id" must be a string or a finite number/)
  })

  it('writes a bigint id as its text', () => {
    expect(encode({ data: 'x', id: 9007199254740993n })).toBe('id: 9007199254740993\ndata: x\n\n')
  })

  it('writes a finite number id as its text', () => {
    expect(encode({ data: 'x', id: 42 })).toBe('id: 42\ndata: x\n\n')
    expect(encode({ data: 'x', id: 0 })).toBe('id: 0\ndata: x\n\n')
    expect(encode({ data: 'x', id: -7 })).toBe('id: -7\ndata: x\n\n')
    expect(encode({ data: 'x', id: 1.5 })).toBe('id: 1.5\ndata: x\n\n')
  })

  it('throws a TypeError naming "id" for a number id that is not finite', () => {
    for (const id of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      rejects(
        { data: 'x', id },
        /"id" must be a string or a finite number; received (NaN|Infinity|-Infinity)/,
      )
    }
  })

  it('throws a TypeError naming "retry" for anything but a non-negative integer', () => {
    for (const retry of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '5', null]) {
      rejects({ data: 'x', retry }, /"retry" must be a non-negative integer/)
    }
    expect(() => encodeRetry(-1)).toThrow(/"retry"/)
  })

  it('throws a TypeError naming "data" for undefined or unserializable data', () => {
    rejects({ data: undefined }, /"data" of type undefined cannot be serialized/)
    rejects({ data: () => 1 }, /"data" of type function cannot be serialized/)
    rejects({ data: Symbol('s') }, /"data" of type symbol cannot be serialized/)
    rejects({}, /"data" of type undefined/)
  })

  it('throws a TypeError naming "data" when the serializer throws, keeping its error as cause', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    rejects({ data: circular }, /"data" of type object cannot be serialized/)
    rejects({ data: 10n }, /"data" of type bigint cannot be serialized/)
    const failure = new Error('nope')
    try {
      encode({ data: 1 }, () => {
        throw failure
      })
      expect.unreachable()
    } catch (error) {
      expect((error as Error).cause).toBe(failure)
    }
  })

  it('throws a TypeError for something that is not an event object', () => {
    rejects(null, /encode\(\) takes an event object/)
    rejects('text', /encode\(\) takes an event object/)
  })

  it('does not echo a huge field value in the message', () => {
    try {
      encode({ data: 'x', id: `${'a'.repeat(10_000)}\n` })
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(200)
    }
  })
})

describe('isSseEvent', () => {
  it('tells an event from a bare payload by its keys', () => {
    expect(isSseEvent({ data: 1 })).toBe(true)
    expect(isSseEvent({ data: 1, event: 'e', id: '1', retry: 5 })).toBe(true)
    expect(isSseEvent({ data: 1, other: 2 })).toBe(false)
    expect(isSseEvent({ event: 'e' })).toBe(false)
    expect(isSseEvent([1])).toBe(false)
    expect(isSseEvent('data')).toBe(false)
    expect(isSseEvent(null)).toBe(false)
  })
})

describe('toBytes', () => {
  it('gives every frame bytes of its own, that later frames never overwrite', () => {
    const frames = Array.from({ length: 3000 }, (_, i) =>
      i % 500 === 0 ? `data: ${'é'.repeat(2000)} ${i}\n\n` : `data: ${i} ✓ 😀\n\n`,
    )
    const bytes = frames.map(toBytes)
    const decoder = new TextDecoder()
    expect(bytes.map((b) => decoder.decode(b))).toEqual(frames)
    expect(bytes.map((b) => b.byteLength)).toEqual(
      frames.map((f) => new TextEncoder().encode(f).byteLength),
    )
  })
})

describe('utf8Length', () => {
  it('gives the UTF-8 byte length of any string, as TextEncoder does (lone surrogates too)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength)
      }),
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength)
      }),
    )
    expect(utf8Length('a é ✓ 😀')).toBe(new TextEncoder().encode('a é ✓ 😀').byteLength)
    for (const odd of ['\ud800', 'a\udc00b', '\ud800\ud800\udc00', '\udbff']) {
      expect(utf8Length(odd), JSON.stringify(odd)).toBe(new TextEncoder().encode(odd).byteLength)
    }
  })
})
