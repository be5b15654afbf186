/**
 * Scenario 3, run in its own process: the cost of turning one event into its frame text.
 * ssekit's `encode()` against better-sse's EventBuffer (reused, as a Session does) and a
 * hand-written template string. Hono's writeSSE and @fastify/sse's formatter are not
 * exported on their own, so they are measured only inside the end-to-end scenarios.
 */
import { encode } from '@ssekit/core'
import { EventBuffer } from 'better-sse'
import { do_not_optimize, measure } from 'mitata'
import { DATA, EVENT, ID } from './shared.js'

export interface EncodeResult {
  group: string
  name: string
  /** Mean time per call, nanoseconds. */
  avg: number
  p50: number
  p99: number
  note?: string
}

const MULTILINE = Array.from(
  { length: 5 },
  (_, i) => `line ${i}: the quick brown fox jumps over the lazy dog`,
).join('\n')

const buffer = new EventBuffer()
const betterSse = (data: unknown, event: string, id: string): string => {
  const text = buffer.push(data, event, id).read()
  buffer.clear()
  return text
}

const cases: { group: string; name: string; fn: () => unknown; note?: string }[] = [
  {
    group: 'small JSON object',
    name: 'ssekit encode()',
    fn: () => encode({ event: EVENT, id: ID, data: DATA }),
  },
  {
    group: 'small JSON object',
    name: 'better-sse EventBuffer',
    fn: () => betterSse(DATA, EVENT, ID),
  },
  {
    group: 'small JSON object',
    name: 'naive template',
    fn: () => `event: ${EVENT}\nid: ${ID}\ndata: ${JSON.stringify(DATA)}\n\n`,
  },
  {
    group: '5-line string (260 B)',
    name: 'ssekit encode()',
    fn: () => encode({ data: MULTILINE }),
  },
  {
    group: '5-line string (260 B)',
    name: 'better-sse EventBuffer',
    fn: () => betterSse(MULTILINE, 'message', ''),
    note: 'JSON-quotes the string: one data line, the client gets the quoted text',
  },
  {
    group: '5-line string (260 B)',
    name: 'naive template',
    fn: () => `data: ${MULTILINE.split('\n').join('\ndata: ')}\n\n`,
    note: 'splits on LF only',
  },
]

// `encode-bench.ts smoke`: a few milliseconds per case, numbers meaningless.
const options = process.argv[2] === 'smoke' ? { min_cpu_time: 10e6 } : {}
const results: EncodeResult[] = []
for (const c of cases) {
  const fn = c.fn
  const stats = await measure(() => do_not_optimize(fn()), options)
  results.push({
    group: c.group,
    name: c.name,
    avg: stats.avg,
    p50: stats.p50,
    p99: stats.p99,
    note: c.note,
  })
}
process.send?.({ type: 'encode', results }, () => process.exit(0))
